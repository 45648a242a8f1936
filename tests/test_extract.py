"""agent/core/extract.py: reading values out of caller speech as a transcriber writes it."""

from __future__ import annotations

from datetime import date

import pytest

from agent.core import extract

TODAY = date(2026, 3, 11)  # a Wednesday


# -- phone numbers -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        # written, national and international
        ("call me on 415 555 2671", "US", "+14155552671"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("my number is 020 7946 0958", "GB", "+442079460958"),
        ("0151 23456789", "DE", "+4915123456789"),
        # spoken, with the country code
        ("plus four nine one five one two three four five six seven eight nine", "US", "+4915123456789"),
        ("my number is plus four nine one five one double five one two three four five six", "US", "+4915155123456"),
        # spoken, national: "oh" is zero and the region supplies the country
        ("oh one five one two three four five six seven eight nine", "DE", "+4915123456789"),
        ("oh two oh seven nine four six oh nine five eight", "GB", "+442079460958"),
        ("zero one seven six triple one two two three three four", "DE", "+4917611122334"),
        ("four one five, five five five, two six seven one", "US", "+14155552671"),
    ],
)
def test_phone_number_to_e164(text: str, region: str, expected: str) -> None:
    assert extract.phone_number(text, region) == expected


@pytest.mark.parametrize("text", ["no number here", "it's one two three", "the site is down", ""])
def test_phone_number_absent(text: str) -> None:
    assert extract.phone_number(text) is None


def test_spoken_digits_double_and_triple() -> None:
    assert extract.spoken_digits("double five triple oh") == "55000"


def test_speak_phone_groups_digits_for_readback() -> None:
    spoken = extract.speak_phone("+14155552671")
    assert spoken.startswith("+1 ")
    assert "415" in spoken and "2671" in spoken


# -- e-mail ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it's Jane.Doe@Acme.com.", "jane.doe@acme.com"),
        ("jane dot doe at acme dot com", "jane.doe@acme.com"),
        ("bob at example dot org please", "bob@example.org"),
        ("my email is j dot smith at mail dot acme dot io", "j.smith@mail.acme.io"),
        ("jane underscore doe at acme dash corp dot co dot uk", "jane_doe@acme-corp.co.uk"),
        ("ops hyphen team at acme dot com", "ops-team@acme.com"),
        ("send it to j_doe-1@sub.acme.co.uk thanks", "j_doe-1@sub.acme.co.uk"),
    ],
)
def test_email_written_and_spoken(text: str, expected: str) -> None:
    assert extract.email(text) == expected


@pytest.mark.parametrize("text", ["I'm at home", "we are at a loss", "not an email", "jane@"])
def test_email_absent(text: str) -> None:
    assert extract.email(text) is None


def test_speak_email_says_the_symbols() -> None:
    assert extract.speak_email("jane_doe@acme-corp.com") == "jane underscore doe at acme dash corp dot com"


# -- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("this is Jane Doe from Acme", "Jane Doe"),
        ("my name's Bob", "Bob"),
        ("My name is Maria Lopez and our checkout is down", "Maria Lopez"),
        ("Jane here", "Jane"),
        ("Bob speaking", "Bob"),
        ("hi this is jane doe calling about the outage", "Jane Doe"),
        ("this is o'brien", "O'brien"),
        ("it's Ted", "Ted"),
    ],
)
def test_name_from_an_introduction(text: str, expected: str) -> None:
    assert extract.person_name(text, loose=False) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("jane doe", "Jane Doe"), ("uh, sure, it's Maria Lopez", "Maria Lopez"), ("Bob", "Bob"), ("alfred", "Alfred")],
)
def test_bare_name_only_when_asked(text: str, expected: str) -> None:
    assert extract.person_name(text, loose=True) == expected
    if " " not in text:
        assert extract.person_name(text, loose=False) is None


@pytest.mark.parametrize(
    "text",
    [
        "this is urgent",
        "I'm calling because the site is down",
        "this is critical",
        "this is serious",
        "this is an emergency",
        "this is important",
        "I'm locked out",
        "I'm stuck",
        "I'm really worried",
        "i'm frustrated",
        "it's failing",
        "it's crashed",
        "it's slow",
        "it's happening again",
        "It's down again",
        "I'm having a problem",
        "I'm afraid the checkout is broken",
        "I am unable to log in",
        "I'm not sure",
        "it's Monday",
        "the website is down",
    ],
)
def test_no_name_from_lines_that_are_not_introductions(text: str) -> None:
    assert extract.person_name(text, loose=False) is None
    assert extract.person_name(text, loose=True) is None


@pytest.mark.parametrize("text", ["yes", "hello", "the website is down"])
def test_no_name_from_non_names_even_when_asked(text: str) -> None:
    assert extract.person_name(text, loose=True) is None


# -- numbers -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("forty two", 42),
        ("twenty-one", 21),
        ("two hundred and fifty", 250),
        ("one thousand two hundred", 1200),
        ("two million", 2_000_000),
        ("about 1,500 users", 1500),
        ("3.5", 3.5),
        ("three point five", 3.5),
        ("roughly 40 customers", 40),
    ],
)
def test_number_in_words_and_digits(text: str, expected: float) -> None:
    assert extract.number(text) == expected


@pytest.mark.parametrize("text", ["none", "a few", "lots of them", ""])
def test_number_absent(text: str) -> None:
    assert extract.number(text) is None


# -- dates -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", TODAY),
        ("it started this morning", TODAY),
        ("yesterday", date(2026, 3, 10)),
        ("the day before yesterday", date(2026, 3, 9)),
        ("last monday", date(2026, 3, 9)),
        ("on wednesday", date(2026, 3, 4)),  # a weekday named on that weekday means a week ago
        ("last friday", date(2026, 3, 6)),
        ("2026-03-04", date(2026, 3, 4)),
        ("03/04/2026", date(2026, 3, 4)),
        ("March 4th", date(2026, 3, 4)),
        ("the 4th of March", date(2026, 3, 4)),
        ("march fourth", date(2026, 3, 4)),
        ("the twenty first of march", date(2026, 3, 21)),
        ("4 march 2025", date(2025, 3, 4)),
    ],
)
def test_spoken_date(text: str, expected: date) -> None:
    assert extract.spoken_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["no idea", "wait a second", "the market crashed", "maybe around noon"])
def test_spoken_date_absent(text: str) -> None:
    assert extract.spoken_date(text, TODAY) is None


# -- yes / no ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    ["yes", "yeah", "that's right", "That is correct", "Yeah, that's correct", "sure thing", "okay", "yes please", "go ahead"],
)
def test_yes(text: str) -> None:
    assert extract.yes_no(text) is True


@pytest.mark.parametrize(
    "text",
    ["no", "nope", "nah", "no, that's wrong", "That's not right", "no thanks", "hmm, I don't think so", "not really"],
)
def test_no(text: str) -> None:
    assert extract.yes_no(text) is False


@pytest.mark.parametrize(
    "text",
    ["maybe", "what?", "I'm not sure", "I don't know", "no idea", "yes no", "the website is down"],
)
def test_ambiguous_is_neither(text: str) -> None:
    assert extract.yes_no(text) is None


# -- choices -----------------------------------------------------------------------------------

def test_choice_forgives_misspellings() -> None:
    options = ["production", "staging", "development"]
    assert extract.choice("it's on stagng", options, loose=False) == "staging"
    assert extract.choice("prodution", options, loose=True) == "production"
    assert extract.choice("the moon", options, loose=True) is None


# -- services ----------------------------------------------------------------------------------

KNOWN = {
    "Checkout API": ["checkout"],
    "Payments": ["billing", "payment gateway"],
    "Auth Service": ["login", "sso"],
    "Customer Portal": [],
    "Search API": [],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("checkout is down", ["Checkout API"]),
        ("the paymnts are failing", ["Payments"]),  # typo
        ("billing is broken", ["Payments"]),  # alias
        ("nobody can get through the login page", ["Auth Service"]),
        ("customer portal down", ["Customer Portal"]),
        ("checkot and paymants", ["Checkout API", "Payments"]),
        ("the weather is nice", []),
        ("the api is slow", []),  # a generic word names no service
    ],
)
def test_services_named_with_typos_and_aliases(text: str, expected: list[str]) -> None:
    assert extract.services(text, KNOWN) == expected


# -- issue 15: German, spelt letters, several "at"s, lines with no value ------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("klaus punkt becker at gmx punkt de", "klaus.becker@gmx.de"),
        ("meine E-Mail ist s minus mueller at firma punkt de", "s-mueller@firma.de"),
        ("info ät meyer bindestrich bau punkt de", "info@meyer-bau.de"),
        ("lena unterstrich kraus at web punkt de", "lena_kraus@web.de"),
        ("a n n a at example dot com", "anna@example.com"),
        ("call me at tom dot baker at initech dot com instead", "tom.baker@initech.com"),
        ("j doe at gmail dot com", "jdoe@gmail.com"),
    ],
)
def test_email_german_spelt_and_several_ats(text: str, expected: str) -> None:
    assert extract.email(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("null eins sieben eins zwei drei vier fünf sechs sieben acht", "+491712345678"),
        ("null eins fünf eins doppel zwei drei vier fünf sechs sieben acht", "+4915122345678"),
        ("null dreißig, neun acht sieben sechs fünf vier drei", "+49309876543"),
        ("plus forty nine one seven one two three four five six seven eight", "+491712345678"),
    ],
)
def test_phone_number_german_words_and_tens(text: str, expected: str) -> None:
    assert extract.phone_number(text, "DE") == expected


@pytest.mark.parametrize(("text", "expected"), [("ja, genau", True), ("das stimmt", True), ("nein, das ist falsch", False), ("weiß ich nicht", None)])
def test_yes_no_in_german(text: str, expected: bool | None) -> None:
    assert extract.yes_no(text) is expected


@pytest.mark.parametrize("text", ["no, that's all", "yes", "hang on a second", "why do you need that", "nein danke", "wie bitte?", ""])
def test_lines_that_give_no_value(text: str) -> None:
    assert extract.gives_no_value(text)


@pytest.mark.parametrize("text", ["Jane Doe", "the checkout is down", "jane at acme dot com"])
def test_lines_that_may_give_a_value(text: str) -> None:
    assert not extract.gives_no_value(text)


def test_mentions_problem_forgives_typos_and_speaks_german() -> None:
    assert extract.mentions_problem("our paymnts keep faling")
    assert extract.mentions_problem("die App ist abgestürzt")
    assert not extract.mentions_problem("my name is Jane Doe")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gestern", date(2026, 3, 10)),
        ("vorgestern Abend", date(2026, 3, 9)),
        ("seit heute Morgen", TODAY),  # "heute Morgen" is this morning, not tomorrow
        ("morgen früh", date(2026, 3, 12)),
        ("letzten Montag", date(2026, 3, 9)),
        ("am vierten März", date(2026, 3, 4)),
        ("am 4. März", date(2026, 3, 4)),
        ("einundzwanzigster Juni", date(2026, 6, 21)),
    ],
)
def test_spoken_date_in_german(text: str, expected: date) -> None:
    assert extract.spoken_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it started at 10:30", "10:30"),
        ("half past two", "02:30"),
        ("quarter to four in the afternoon", "15:45"),
        ("at two thirty pm", "14:30"),
        ("um vierzehn Uhr dreißig", "14:30"),
        ("um halb drei", "02:30"),  # German "half three" is 2:30
        ("viertel nach drei", "03:15"),
        ("viertel vor vier", "03:45"),
        ("seit 9.15 Uhr", "09:15"),
        ("we have one problem", None),
    ],
)
def test_spoken_time_english_and_german(text: str, expected: str | None) -> None:
    assert extract.spoken_time(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("zweiundvierzig", 42), ("fünf", 5), ("drei hundert", 300), ("forty two", 42)])
def test_number_in_german_and_english_words(text: str, expected: int) -> None:
    assert extract.number(text) == expected


# -- issue 15, slot precision: corrections, spelt addresses, refusals, phone digits --------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("john smith, no wait, it's john smyth", "it's john smyth"),
        ("ich heiße Jana Wolf, nein, Jana Wolff", "Jana Wolff"),
        ("the sign in, no wait, I mean the checkout", "the checkout"),  # the second marker goes too
        ("null eins sieben eins, nein Entschuldigung, null eins sieben zwei", "null eins sieben zwei"),
        ("no, that's all", "no, that's all"),  # a "no" that starts the line corrects nothing
        ("payments are down", "payments are down"),
    ],
)
def test_after_correction_keeps_what_the_caller_settled_on(text: str, expected: str) -> None:
    assert extract.after_correction(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("j o h n dot s m i t h at example dot com", "john.smith@example.com"),  # letters joined before the dots
        ("mueller klammeraffe firma punkt de", "mueller@firma.de"),
        ("my email address is mark at globex dot com, no wait, mark dot evans at globex dot com", "mark.evans@globex.com"),
    ],
)
def test_email_spelt_with_symbols_and_corrected(text: str, expected: str) -> None:
    assert extract.email(text) == expected


def test_without_email_leaves_the_words_around_the_address() -> None:
    assert extract.without_email("meine E-Mail ist kai at acme punkt de und ich heiße Kai Lorenz").split() == [
        "meine", "E-Mail", "ist", ",", "und", "ich", "heiße", "Kai", "Lorenz",
    ]
    assert extract.without_email("it's anna hyphen lena at web dot de").split() == ["it's", ","]
    assert extract.without_email("no address here") == "no address here"


@pytest.mark.parametrize(
    "line",
    ["I'd prefer not to say", "ich möchte dazu nichts sagen", "keine Angabe", "das geht Sie nichts an",
     "nothing, everything's fine now", "sorry what"],
)
def test_refusals_and_it_works_again_give_no_value(line: str) -> None:
    assert extract.gives_no_value(line)


def test_a_phone_numbers_digits_are_no_error_code_and_reachable_again_is_no_problem() -> None:
    assert not extract.mentions_problem("my number is 0171 555 1234 and my name is Jo Baker")
    assert extract.mentions_problem("it says error 502")
    assert not extract.mentions_problem("um halb drei bin ich wieder erreichbar")
    assert extract.mentions_problem("der Server ist nicht erreichbar")
    assert extract.mentions_problem("die Anmeldung funktioniert seit heute morgen nicht")


def test_names_with_letters_beyond_latin_1_and_a_name_repeated_after_a_lead() -> None:
    assert extract.person_name("Yildiz, Ayşe Yildiz", loose=True) == "Ayşe Yildiz"
    assert extract.person_name("name's Bond, James Bond", loose=True) == "James Bond"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("this is Frank, extension 4471", "Frank"),  # the comma ends the name
        ("call me Bob, everybody does", "Bob"),
        ("hi im tom", "Tom"),
        ("ab vierzehn Uhr bin ich im Büro", None),  # German "im" is no "I'm"
        ("steht irgendwo im Vertrag", None),
        ("hier ist die Buchhaltung", None),
        ("ich bin die Anna von der Buchhaltung", "Anna"),
    ],
)
def test_names_end_at_a_comma_and_departments_or_german_im_are_no_names(text: str, expected: str | None) -> None:
    assert extract.person_name(text, loose=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the checkout, not the payments, is throwing errors", ["Checkout API"]),
        ("die Kasse geht, aber die Berichte sind leer", ["Reporting"]),
        ("nicht die Kasse, sondern die Anmeldung", ["Login"]),
        ("the checkout is not working", ["Checkout API"]),  # "not" of the problem itself
        ("payments not going through", ["Payments"]),
        ("seit halb neun können sich 300 Kunden nicht anmelden", ["Login"]),  # the verb of "Anmeldung"
    ],
)
def test_a_service_said_to_be_unaffected_is_left_out(text: str, expected: list[str]) -> None:
    known = {"Checkout API": ["checkout", "kasse"], "Payments": ["billing", "zahlungen"], "Login": ["anmeldung"], "Reporting": ["berichte"]}
    assert extract.services(text, known) == expected


def test_a_name_said_twice_a_greeting_and_german_prepositions() -> None:
    assert extract.bare_name("Kim. Daniel Kim.") == "Daniel Kim"
    assert extract.person_name("Grüß Gott, Huber hier", loose=True) == "Huber"
    assert extract.person_name("ich bin unter der gleichen Nummer erreichbar", loose=True) is None
    assert extract.gives_no_value("das hab ich doch schon gesagt")


def test_the_longer_service_name_takes_its_words() -> None:
    known = {"Checkout API": ["checkout", "payment page"], "Payments": ["billing"]}
    assert extract.services("the payment page I think", known) == ["Checkout API"]
    assert extract.services("payments and the checkout", known) == ["Checkout API", "Payments"]  # in the known order


def test_skip_is_no_name_and_a_name_before_the_problem_is_found() -> None:
    assert extract.person_name("skip", loose=True) is None
    assert extract.person_name("Sam Lee here, our payment API throws errors", loose=False) == "Sam Lee"


def test_a_question_back_about_why_is_recognised() -> None:
    from agent.core.extract import asks_why

    for line in ("why do you need that?", "what do you need it for", "why are you asking", "wozu brauchen sie das denn", "wofür brauchen Sie das"):
        assert asks_why(line), line
    for line in ("grace at liu dot com", "the checkout is down, why", "Klaus Schneider"):
        assert not asks_why(line), line


def test_acceptance_words_and_greetings_before_a_name_are_no_name() -> None:
    from agent.core.extract import person_name

    assert person_name("na gut, Schneider, Klaus Schneider", loose=True) == "Klaus Schneider"
    assert person_name("okay fine, Grace Liu", loose=True) == "Grace Liu"
    assert person_name("na gut", loose=True) is None
    # unpunctuated speech: the greeting runs into "<name> hier"
    assert person_name("ja guten tag hoffmann hier von der firma brandt bau, die anmeldung geht nicht", loose=False) == "Hoffmann"
    assert person_name("hallo hier ist die anmeldung kaputt", loose=False) is None


def test_a_domain_said_as_two_words_is_joined_for_the_read_back() -> None:
    from agent.core.extract import email

    assert email("okay fine, it's grace at liu consulting dot com") == "grace@liuconsulting.com"
    assert email("call me at tom dot baker at initech dot com") == "tom.baker@initech.com"
    assert email("we are at the office dot com") is None


def test_a_part_of_a_read_back_said_to_be_wrong_is_replaced() -> None:
    from agent.core.extract import replaced_part

    assert replaced_part("nein, nicht punkt de, punkt at", "lena.vogel@gmx.de") == "lena.vogel@gmx.at"
    assert replaced_part("nein, nicht gmx sondern web", "lena.vogel@gmx.de") == "lena.vogel@web.de"
    assert replaced_part("no, not gmail, it's yahoo", "jo@gmail.com") == "jo@yahoo.com"
    assert replaced_part("no, not o, a", "jo@gmail.com") is None  # found more than once, or too short: asked again
    assert replaced_part("no", "jo@gmail.com") is None


def test_a_phishing_email_names_no_service() -> None:
    from agent.core.extract import services

    known = {"Email delivery": ["emails"], "Login": ["sso"]}
    assert services("we got a phishing email and a developer typed his sso password on a fake page", known) == ["Login"]
    assert services("our emails are not delivered", known) == ["Email delivery"]


def test_a_service_at_the_end_of_a_clause_is_named_and_a_correction_marker_is_dropped() -> None:
    from agent.core.extract import after_correction, services

    known = {"Login": ["sign in"], "Email delivery": ["emails"], "Reporting": ["reports"]}
    # "in" before the comma is no verb taking "it" as its object
    assert services("the sign in, it keeps rejecting correct passwords", known) == ["Login"]
    assert services("I'd like to report it to you", known) == []
    line = "our notification emails, no sorry, I mean the sign in, it keeps rejecting correct passwords"
    assert after_correction(line) == "the sign in, it keeps rejecting correct passwords"


def test_a_title_is_no_first_name() -> None:
    from agent.core.extract import bare_name, first_name

    assert bare_name("Frau Berger, Anna Berger") == "Anna Berger"
    assert first_name("Frau Berger") == "Frau Berger" and first_name("Anna Berger") == "Anna"
