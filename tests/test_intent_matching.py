"""agent/conversation/matching.py IntentMatcher with the built-in intents, on lines that are NOT their examples."""

from __future__ import annotations

import pytest

from agent.conversation.matching import IntentMatcher
from plugins.intents import BUILTIN_INTENTS

MATCHER = IntentMatcher(BUILTIN_INTENTS)

# Paraphrases, misspellings and indirect phrasings a caller may use.
LINES: list[tuple[str, str]] = [
    # incident
    ("the websit keeps throwing erors", "incident"),
    ("our nightly import job crashed again", "incident"),
    ("orders are stuck in pending and never complete", "incident"),
    ("since the last release the reports show wrong numbers", "incident"),
    ("i'm getting an exception every time i upload a file", "incident"),
    ("the dashboard is really slow today", "incident"),
    ("invoices are coming out corrupted", "incident"),
    ("something went wrong with the sync between our systems", "incident"),
    ("the webhooks stopped firing after your update", "incident"),
    ("we have a bug that's affecting production", "incident"),
    # system_outage
    ("the websit is donw", "system_outage"),
    ("your whole site is dead", "system_outage"),
    ("none of our customers can reach the app", "system_outage"),
    ("we're getting 503 gateway errors on every page", "system_outage"),
    ("the api is totally unreachable", "system_outage"),
    ("nothing is loading for anybody", "system_outage"),
    ("your platform is offline for all users", "system_outage"),
    ("the service is compleetly down", "system_outage"),
    ("everything went down about ten minutes ago", "system_outage"),
    ("the servers aren't responding at all", "system_outage"),
    # security_breach
    ("we got hackd", "security_breach"),
    ("i think somebody broke into our admin account", "security_breach"),
    ("customer data was leaked online", "security_breach"),
    ("there's malware on one of the machines", "security_breach"),
    ("we're under a ddos attack", "security_breach"),
    ("i received a phising mail that looks like it came from you", "security_breach"),
    ("someone stole our api keys", "security_breach"),
    ("there are logins from russia that nobody here made", "security_breach"),
    # technical_support
    ("how do i set up the slack integration", "technical_support"),
    ("i can't remember my pasword", "technical_support"),
    ("i need help configuring alerts", "technical_support"),
    ("where do i find the settings for notifications", "technical_support"),
    ("can you walk me through installing the agent", "technical_support"),
    ("my account is locked and i can't sign in", "technical_support"),
    ("is there documentation for the rest api", "technical_support"),
    # inquiry
    ("i have a question about my bill", "inquiry"),
    ("how much does the enterprise plan cost", "inquiry"),
    ("i want to know about pricing", "inquiry"),
    ("when is our contract up for renewal", "inquiry"),
    ("i'd like to talk about upgrading our subscription", "inquiry"),
    ("just a general enquiry really", "inquiry"),
    # talk_to_human
    ("can i speak to a real human being", "talk_to_human"),
    ("just put me through to an engineer", "talk_to_human"),
    ("i'd rather talk to an actual person", "talk_to_human"),
    ("transfer me to somebody please", "talk_to_human"),
    ("are you a robot? i want a person", "talk_to_human"),
    ("connect me with the on call guy", "talk_to_human"),
    ("could i get a representatve", "talk_to_human"),
    ("operater please", "talk_to_human"),
]

OFF_TOPIC = [
    "i'd like to order a pizza",
    "what's the weather like tomorrow",
    "is it going to rain",
    "tell me a joke",
    "Jane Doe",
    "bob smith",
    "hello",
    "hello?",
    "good morning",
    "thank you",
    "um",
    "yes",
    "no",
    "ok great",
    "goodbye",
    "what time is it",
    "my favourite colour is blue",
    "can you recommend a good restaurant",
    "who won the football game",
]


def test_table_lines_are_not_examples() -> None:
    examples = {e.lower() for i in BUILTIN_INTENTS for e in [*i.examples, *i.keywords]}
    assert not [line for line, _ in LINES if line.lower() in examples]
    assert len(LINES) >= 40
    assert {want for _, want in LINES} == {i.name for i in BUILTIN_INTENTS}


@pytest.mark.parametrize(("line", "intent"), LINES)
def test_caller_line_matches_intent(line: str, intent: str) -> None:
    match = MATCHER.match(line)
    assert match is not None, f"{line!r} matched nothing; scores {MATCHER.scores(line)}"
    assert match.intent == intent, f"{line!r}: got {match.intent}; scores {MATCHER.scores(line)}"


@pytest.mark.parametrize("line", OFF_TOPIC)
def test_off_topic_matches_nothing(line: str) -> None:
    assert MATCHER.match(line) is None, MATCHER.scores(line)


def test_every_example_matches_its_own_intent() -> None:
    wrong = [
        (intent.name, example, MATCHER.match(example))
        for intent in BUILTIN_INTENTS
        for example in intent.examples
        if (m := MATCHER.match(example)) is None or m.intent != intent.name
    ]
    assert not wrong


def test_among_restricts_the_candidates() -> None:
    assert MATCHER.match("we got hackd", among=["incident", "system_outage"]) is None
    match = MATCHER.match("the websit is donw", among=["system_outage", "talk_to_human"])
    assert match is not None and match.intent == "system_outage"
    assert MATCHER.match("the websit is donw", among=[]) is None


def test_scores_cover_every_intent() -> None:
    scores = MATCHER.scores("tell me a joke")
    assert set(scores) == {i.name for i in BUILTIN_INTENTS}
    assert all(v >= 0 for v in scores.values())


def test_multi_word_keywords_match_whole_words_only() -> None:
    # "on call" inside "reason calls" must not count for talk_to_human
    assert MATCHER.scores("the reason calls fail")["talk_to_human"] == 0


# Issue 15: German callers, speech-recogniser output, short-word typos, and two intents in one line.
@pytest.mark.parametrize(
    ("line", "intent"),
    [
        ("bei uns läuft gar nichts mehr, alles offline", "system_outage"),
        ("wir glauben, dass jemand unser Konto gehackt hat", "security_breach"),
        ("die Rechnungen kommen doppelt bei den Kunden an", "incident"),
        ("ich möchte bitte mit einem Menschen reden", "talk_to_human"),
        ("was kostet eigentlich der größere Tarif", "inquiry"),
        ("we get a five oh three on every page", "system_outage"),  # spoken status code
        ("the sevrice is dwon", "system_outage"),  # swapped letters in short words
    ],
)
def test_german_and_spoken_lines(line: str, intent: str) -> None:
    match = MATCHER.match(line)
    assert match is not None and match.intent == intent, MATCHER.scores(line)


def test_a_short_word_one_letter_off_is_another_word_not_a_typo() -> None:
    # "sell" is not "stell" (durchstellen), "press" not "preis"
    assert MATCHER.match("do you sell garden furniture") is None
    assert MATCHER.match("sorry my kid pressed redial") is None


def test_wrong_number_is_no_intent_even_with_a_problem_word() -> None:
    assert MATCHER.match("sorry, wrong number") is None
    assert MATCHER.match("Entschuldigung, falsch verbunden") is None


def test_a_request_for_a_person_beats_the_problem_it_comes_with() -> None:
    line = "the whole site is down, put me through to the engineer on call"
    assert {m.intent for m in MATCHER.ranked(line)} >= {"system_outage", "talk_to_human"}
    assert MATCHER.match(line).intent == "talk_to_human"
    # a question about whom to talk to is not a request for a person
    assert MATCHER.match("who do I talk to about renewing the contract").intent == "inquiry"


def test_a_security_report_beats_the_outage_it_caused() -> None:
    assert MATCHER.match("we got hacked and now the website is down for everyone").intent == "security_breach"
