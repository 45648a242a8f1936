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


# Issue 15, round 5-6: each test is one kind of failure found on fresh probe lines; the lines here are in no
# benchmark set and no example, so they show the kind is fixed, not the line.
def _intent(line: str) -> str | None:
    match = MATCHER.match(line)
    return match.intent if match else None


def test_how_far_a_problem_reaches_is_no_outage_unless_it_reaches_people() -> None:
    # every record, or some users: an incident while the service is up
    assert _intent("every invoice we sent this week has the wrong due date") == "incident"
    assert _intent("the export repeats every row twice") == "incident"
    assert _intent("some of our users can't upload pictures") == "incident"
    assert _intent("bei manchen kunden fehlen die rechnungen") == "incident"
    # every person: an outage
    assert _intent("every user gets an error page") == "system_outage"
    assert _intent("alle kunden bekommen eine fehlerseite") == "system_outage"


def test_another_form_of_a_known_word_is_that_word_but_a_different_word_is_not() -> None:
    assert _intent("can you send us your iso certificate") == "inquiry"  # the vocabulary has "certification"
    assert _intent("i lost my passport") is None  # one letter off "passwort", but no typing slip makes p into w


def test_a_spoken_status_code_is_the_number() -> None:
    assert _intent("the api answers five hundred on every save") == "incident"
    assert _intent("we keep getting four oh one from the token endpoint") == "incident"


def test_a_negation_without_its_apostrophe_still_negates() -> None:
    assert _intent("the page doesnt load for anyone") == "system_outage"


def test_a_german_how_question_asks_for_help_whatever_its_verb() -> None:
    assert _intent("wie exportiere ich meine kontakte") == "technical_support"
    assert _intent("wo ändere ich die sprache") == "technical_support"


def test_a_thing_of_the_callers_own_that_no_intent_knows_is_for_somebody_else() -> None:
    assert _intent("my dishwasher is broken") is None
    assert _intent("mein kühlschrank geht nicht mehr") is None
    assert _intent("my car won't start") is None
    # "my" with a thing of the product is still ours
    assert _intent("my dashboard shows errors") == "incident"
    assert _intent("my account is locked and i can't sign in") == "technical_support"


def test_asking_whether_there_is_a_problem_is_a_question_not_a_report() -> None:
    # a status-page question, as a speech recogniser writes it
    assert _intent("is there an outage at the moment or is it just us") == "inquiry"
    assert _intent("hi is there a known problem right now everything works here i just saw the banner") == "inquiry"
    assert _intent("gibt es gerade probleme bei ihnen bei uns läuft alles") == "inquiry"


def test_a_question_about_how_we_guard_data_is_a_question_not_a_breach() -> None:
    assert _intent("do you encrypt the backups") == "inquiry"
    assert _intent("how secure is our data with you") == "inquiry"


def test_something_nobody_here_did_is_a_security_report() -> None:
    assert _intent("a former employee still logs in every night") == "security_breach"
    assert _intent("we got a login code by text that we didnt request") == "security_breach"
    assert _intent("someone defaced our help center") == "security_breach"  # not a request for "someone" to "help"


def test_shared_nouns_yield_to_a_sure_sign_of_another_intent() -> None:
    # "invoices" leans to billing questions; "how can i" is a sure sign of asking for help
    assert _intent("how can i export the invoices as csv") == "technical_support"


def test_a_request_for_a_person_in_other_words() -> None:
    assert _intent("can you get someone from support on the phone") == "talk_to_human"
    assert _intent("i'd rather go through this with a person") == "talk_to_human"


def test_ways_of_failing_beyond_error_words() -> None:
    assert _intent("the slack connection keeps dropping") == "incident"
    assert _intent("the page just spins and nothing happens") == "incident"
    assert _intent("die synchronisation bricht immer wieder ab") == "incident"


def test_payments_that_fail_are_an_incident_how_to_pay_is_a_question() -> None:
    assert _intent("card payments are failing for our shop since this morning") == "incident"
    assert _intent("could we pay via direct debit next year") == "inquiry"


def test_a_robot_named_in_small_talk_asks_for_nobody() -> None:
    # Outside check (issue 15): "wow, a robot" is small talk, not a request for a person; not wanting one still is.
    assert MATCHER.match("oh hi, wow, a robot, how is the weather in Berlin today") is None
    assert MATCHER.match("i want a callback from a person not a robot").intent == "talk_to_human"  # type: ignore[union-attr]
    assert MATCHER.match("ich will mit keinem roboter reden").intent == "talk_to_human"  # type: ignore[union-attr]


def test_german_verb_final_clause_of_nobody_getting_in_is_an_outage() -> None:
    # "weil ... keiner mehr reinkommt": the verb goes to the end of a German subordinate clause.
    line = "ich ruf an weil bei uns seit heute morgen keiner mehr reinkommt also die anmeldung geht nicht"
    assert MATCHER.match(line).intent == "system_outage"  # type: ignore[union-attr]
    assert MATCHER.match("unsere kunden bekommen seit dem mittag keine benachrichtigungen mehr").intent == "incident"  # type: ignore[union-attr]
