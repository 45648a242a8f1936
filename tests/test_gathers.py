"""Gathers: the built-ins in plugins/gathers.py and flow-declared CustomGather fields."""

from __future__ import annotations

from datetime import date

import pytest

from agent.core.gathers import CustomGather, GatherContext, InvalidValue
from plugins.gathers import AffectedServices, CallerName, ContactNumber, Email, IncidentDescription

TODAY = date(2026, 3, 11)
KNOWN = {"Checkout API": ["checkout"], "Payments": ["billing", "payment gateway"], "Search": []}


def ctx(**kwargs) -> GatherContext:
    return GatherContext(**kwargs)


# -- contact_number ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        (4155552671, "US", "+14155552671"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("004915123456789", "DE", "+4915123456789"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("07700 900123", "GB", "+447700900123"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("+49 151 23456789", "US", "+4915123456789"),  # an explicit country code beats the region
        ("plus four nine one five one two three four five six seven eight nine", "US", "+4915123456789"),
    ],
)
def test_contact_number_normalises_to_e164(value, region: str, expected: str) -> None:
    assert ContactNumber().normalise(value, ctx(region=region)) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12", "wrong length"),
        ("hello", "not a phone number"),
        ("", "not a phone number"),
        (None, "not a phone number"),
    ],
)
def test_contact_number_rejects_with_a_reason(value, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason) as info:
        ContactNumber().normalise(value, ctx())
    assert "country code" in str(info.value)  # tells the model what to ask for


def test_contact_number_default_is_the_caller_id() -> None:
    gather = ContactNumber()
    assert gather.default(ctx(caller_number="+14155552671")) == "+14155552671"
    assert gather.default(ctx(caller_number="01512345678", region="DE")) == "+491512345678"
    assert gather.default(ctx(caller_number="anonymous")) is None
    assert gather.default(ctx(caller_number=None)) is None
    assert gather.confirm is True


def test_contact_number_readback_is_grouped() -> None:
    assert ContactNumber().readback("+14155552671") == "+1 415-555-2671"


def test_contact_number_extracted_from_speech() -> None:
    assert ContactNumber().extract("you can reach me on oh one five one two three four five six seven eight nine", ctx(region="DE")) == "+4915123456789"


# -- email -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Jane.Doe@Acme.com", "jane.doe@acme.com"),
        ("jane dot doe at acme dot com", "jane.doe@acme.com"),
        ("j_doe-1@sub.acme.co.uk", "j_doe-1@sub.acme.co.uk"),
        ("jane underscore doe at acme dash corp dot com", "jane_doe@acme-corp.com"),
    ],
)
def test_email_normalises(value: str, expected: str) -> None:
    assert Email().normalise(value, ctx()) == expected


@pytest.mark.parametrize("value", ["not an email", "", None, "jane@"])
def test_email_rejects_with_a_reason(value) -> None:
    with pytest.raises(InvalidValue, match="at sign and a domain"):
        Email().normalise(value, ctx())


def test_email_readback_spells_symbols() -> None:
    assert Email().readback("jane.doe@acme.com") == "jane dot doe at acme dot com"


# -- caller_name -------------------------------------------------------------------------------

def test_caller_name_capitalised() -> None:
    assert CallerName().normalise("jean-luc picard", ctx()) == "Jean-luc Picard"
    assert CallerName().normalise("  jane doe ", ctx()) == "Jane Doe"


@pytest.mark.parametrize(("value", "reason"), [("   ", "empty"), ("12345", "letters"), ("x" * 100, "letters")])
def test_caller_name_rejects(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        CallerName().normalise(value, ctx())


def test_caller_name_extracted_only_from_names() -> None:
    gather = CallerName()
    assert gather.extract("this is Jane Doe from Acme", ctx()) == "Jane Doe"
    assert gather.extract("jane doe", ctx(asked=True)) == "Jane Doe"
    assert gather.extract("this is urgent", ctx(asked=True)) is None


# -- affected_services -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["checkot"], ["Checkout API"]),  # typo
        ("billing", ["Payments"]),  # alias, and a bare string instead of a list
        (["paymnts", "checkout api"], ["Payments", "Checkout API"]),
        (["checkout", "Checkout API"], ["Checkout API"]),  # no duplicates
        ("checkout and payments", ["Checkout API", "Payments"]),
        (["Warehouse"], ["Warehouse"]),  # unknown services are kept as said
    ],
)
def test_affected_services_matched_against_known(value, expected: list[str]) -> None:
    assert AffectedServices().normalise(value, ctx(known_services=KNOWN)) == expected


@pytest.mark.parametrize("value", [[], "", ["  "], None, [None]])
def test_affected_services_rejects_nothing(value) -> None:
    with pytest.raises(InvalidValue, match="at least one"):
        AffectedServices().normalise(value, ctx(known_services=KNOWN))


def test_affected_services_schema_is_a_list() -> None:
    schema = AffectedServices().json_schema()
    assert schema["type"] == "array" and schema["items"] == {"type": "string"}
    assert AffectedServices().readback(["Checkout API", "Payments"]) == "Checkout API, Payments"


def test_affected_services_extracted_from_a_line() -> None:
    gather = AffectedServices()
    assert gather.extract("our checkout is broken", ctx(known_services=KNOWN)) == ["Checkout API"]
    assert gather.extract("the weather", ctx(known_services=KNOWN)) is None
    assert gather.extract("the warehouse app and the CRM", ctx(known_services=KNOWN, asked=True)) == ["the warehouse app", "the CRM"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("it's about all of your services", ["all services"]),
        ("every system of yours", ["all services"]),
        ("das betrifft alle Dienste", ["alle Dienste"]),
        ("all of them I think", None),  # unsure, and names nothing: asked again
    ],
)
def test_an_answer_naming_every_service_is_kept_as_all_services(line: str, expected: list[str] | None) -> None:
    assert AffectedServices().extract(line, ctx(known_services=KNOWN, asked=True)) == expected


# -- incident ----------------------------------------------------------------------------------

def test_incident_keeps_the_problem_sentences() -> None:
    line = "Hi, I'm Jane from Acme. Our checkout is down since ten minutes. Customers get 502 errors. Thanks."
    assert IncidentDescription().extract(line, ctx()) == "Our checkout is down since ten minutes. Customers get 502 errors."


def test_incident_needs_a_problem_unless_asked() -> None:
    gather = IncidentDescription()
    assert gather.extract("hello there", ctx()) is None
    assert gather.extract("I want to report something", ctx(asked=True)) == "I want to report something"
    assert gather.extract("down", ctx(asked=True)) is None  # one word says too little


def test_incident_normalise() -> None:
    gather = IncidentDescription()
    with pytest.raises(InvalidValue, match="empty"):
        gather.normalise("  ", ctx())
    assert len(gather.normalise("x" * 2000, ctx())) == 500  # the tool contract's text limit


# -- custom fields -----------------------------------------------------------------------------

def test_custom_string_with_regex() -> None:
    gather = CustomGather("ticket", label="Ticket", question="Ticket number?", regex=r"[A-Z]{2,5}-\d+")
    assert gather.normalise(" OPS-123 ", ctx()) == "OPS-123"
    with pytest.raises(InvalidValue, match="Ticket does not have the expected format"):
        gather.normalise("123", ctx())
    with pytest.raises(InvalidValue, match="Ticket is empty"):
        gather.normalise("", ctx())
    assert gather.extract("it's ticket ops-42 I think", ctx()) == "OPS-42"
    assert gather.extract("no ticket", ctx()) is None
    assert gather.json_schema() == {"description": "Ticket: Ticket number?", "type": "string", "pattern": r"[A-Z]{2,5}-\d+"}


def test_custom_plain_string() -> None:
    gather = CustomGather("note", label="Note", question="Anything else?")
    assert gather.normalise("  hi  ", ctx()) == "hi"
    assert gather.extract("hi", ctx()) is None  # free text is taken only as an answer
    assert gather.extract("hi", ctx(asked=True)) == "hi"
    assert gather.json_schema() == {"description": "Note: Anything else?", "type": "string"}


@pytest.mark.parametrize(("value", "expected"), [(42, 42), ("forty two", 42), ("about 1,500", 1500), (3.5, 3.5), ("0", 0)])
def test_custom_number(value, expected) -> None:
    gather = CustomGather("users", label="Affected users", question="How many?", value_type="number")
    assert gather.normalise(value, ctx()) == expected


@pytest.mark.parametrize("value", ["lots", True])
def test_custom_number_rejects(value) -> None:
    gather = CustomGather("users", label="Affected users", question="How many?", value_type="number")
    with pytest.raises(InvalidValue, match="Affected users must be a number"):
        gather.normalise(value, ctx())
    assert gather.json_schema()["type"] == "number"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yesterday", "2026-03-10"),
        ("2026-03-04", "2026-03-04"),
        ("March 4th", "2026-03-04"),
        ("last friday", "2026-03-06"),
        (date(2026, 3, 1), "2026-03-01"),
    ],
)
def test_custom_date(value, expected: str) -> None:
    gather = CustomGather("since", label="Start date", question="When?", value_type="date")
    assert gather.normalise(value, ctx(today=TODAY)) == expected


def test_custom_date_rejects_and_schema() -> None:
    gather = CustomGather("since", label="Start date", question="When?", value_type="date")
    with pytest.raises(InvalidValue, match="Start date must be a date"):
        gather.normalise("no idea", ctx(today=TODAY))
    assert gather.json_schema() == {"description": "Start date: When?", "type": "string", "format": "date"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("yes", True), ("nope", False), ("that's right", True), ("no", False)],
)
def test_custom_boolean(value, expected: bool) -> None:
    gather = CustomGather("prod", label="Production", question="Is it production?", value_type="boolean")
    assert gather.normalise(value, ctx()) is expected


@pytest.mark.parametrize("value", ["maybe", "I don't know"])
def test_custom_boolean_rejects_unsure_answers(value: str) -> None:
    gather = CustomGather("prod", label="Production", question="Is it production?", value_type="boolean")
    with pytest.raises(InvalidValue, match="Production must be yes or no"):
        gather.normalise(value, ctx())
    assert gather.json_schema()["type"] == "boolean"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("prodution", "production"), ("Staging", "staging"), ("stagng", "staging"), ("develoment", "development"), ("prod", "production")],
)
def test_custom_choices_find_misspelt_choice(value: str, expected: str) -> None:
    gather = CustomGather("env", label="Environment", question="Which?", choices=["production", "staging", "development"])
    assert gather.normalise(value, ctx()) == expected


def test_custom_choices_reject_and_schema() -> None:
    gather = CustomGather("env", label="Environment", question="Which?", choices=["production", "staging", "development"])
    with pytest.raises(InvalidValue, match="Environment must be one of: production, staging, development"):
        gather.normalise("the moon", ctx())
    assert gather.json_schema() == {
        "description": "Environment: Which?", "type": "string", "enum": ["production", "staging", "development"],
    }
    assert gather.extract("it's on stagng", ctx()) == "staging"
    assert gather.extract("hello there", ctx()) is None


def test_configured_copy_keeps_the_original() -> None:
    original = ContactNumber()
    optional = original.configured(required=False, question="Number?", label=None)
    assert optional.required is False and optional.question == "Number?"
    assert original.required is True and optional.label == original.label


# -- issue 15: a value must be of its field's kind ---------------------------------------------------

@pytest.mark.parametrize("line", ["no, that's all", "nothing else", "yes", "why do you need that", "nein danke, das war's", "ja", "moment bitte"])
def test_a_closer_or_a_yes_is_not_a_name(line: str) -> None:
    assert CallerName().extract(line, ctx(asked=True)) is None


def test_names_in_german_and_after_a_comma() -> None:
    gather = CallerName()
    assert gather.extract("Ich heiße Klaus Becker", ctx(asked=True)) == "Klaus Becker"
    assert gather.extract("hier ist jürgen weber von der firma meyer", ctx()) == "Jürgen Weber"
    assert gather.extract("Weber, Thomas Weber", ctx(asked=True)) == "Thomas Weber"
    assert gather.extract("Oliver, and my e-mail is oliver at brightsmith dot com", ctx(asked=True)) == "Oliver"


def test_a_bare_name_is_claimed_by_the_name_whatever_was_asked() -> None:
    assert CallerName().claims("Sabine Müller", ctx()) == "Sabine Müller"
    assert CallerName().claims("the checkout is down", ctx()) is None
    assert Email().claims("Sabine Müller", ctx()) is None  # by default a field claims nothing


@pytest.mark.parametrize("line", ["Jane Doe", "forty two", "no that's all", "jane at acme dot com", "sorry can you repeat that"])
def test_a_description_is_not_a_name_a_number_or_a_closer(line: str) -> None:
    assert IncidentDescription().extract(line, ctx(asked=True)) is None


def test_a_misspelt_first_description_is_taken_unasked() -> None:
    line = "our paymnts keep faling since the deploy, lots of erors"
    assert IncidentDescription().extract(line, ctx()) == line


@pytest.mark.parametrize("line", ["jane dot doe at initech dot com", "plus four nine one seven one two three four five six seven eight", "I'm not sure", "Tom Baker"])
def test_an_address_a_number_or_a_name_is_not_a_service(line: str) -> None:
    assert AffectedServices().extract(line, ctx(known_services={"Email delivery": ["emails"]}, asked=True, region="DE")) is None


def test_a_custom_id_is_not_read_out_of_a_phone_number_unasked() -> None:
    gather = CustomGather("customer_id", label="customer ID", question="?", regex=r"(AC-?)?\d{4,8}")
    assert gather.extract("you can call me on 030 98765432", ctx(region="DE")) is None
    assert gather.extract("it's AC-20931", ctx(region="DE")) == "AC-20931"
    assert gather.extract("four four seven one two", ctx(asked=True)) == "44712"  # asked: spoken digits count


def test_a_number_word_or_keine_is_no_name_and_an_address_is_no_name_unasked() -> None:
    assert CallerName().claims("thirteen", ctx()) is None
    assert CallerName().extract("keine", ctx(asked=True)) is None
    assert CallerName().extract("it's L RAY at globex dot com", ctx()) is None  # the words are the address
    assert CallerName().extract("ich bin die Anna von der Buchhaltung", ctx(asked=True)) == "Anna"
    assert CallerName().extract("it's the sign in", ctx()) is None


def test_a_name_with_its_company_and_a_service_beside_a_number() -> None:
    assert CallerName().claims("Mark Evans from Globex", ctx()) == "Mark Evans"
    assert CallerName().claims("Mark Evans von Globex", ctx()) == "Mark Evans"
    line = "the checkout is throwing errors, call me on plus four nine one five one four four four five five six six seven"
    assert AffectedServices().extract(line, ctx(known_services=KNOWN, region="DE")) == ["Checkout API"]
    assert AffectedServices().extract("all of them I think", ctx(known_services=KNOWN, asked=True)) is None


def test_unasked_a_bare_number_is_no_custom_id_but_a_named_or_prefixed_one_is() -> None:
    gather = CustomGather("customer_id", label="customer ID", question="?", regex=r"(AC-?)?\d{4,8}")
    assert gather.extract("12345", ctx(region="DE")) is None
    assert gather.extract("my customer ID is 12345", ctx(region="DE")) == "12345"
    assert gather.extract("my number is 0171 555 1234", ctx(region="DE")) is None  # "0171" is part of the phone number
    assert gather.extract("AC dash four four seven one two", ctx(asked=True)) == "AC-44712"
    assert gather.extract("AC minus eins zwei drei vier fünf", ctx(asked=True)) == "AC-12345"
    assert gather.extract("12345678", ctx(asked=True, region="DE")) == "12345678"  # asked: all its digits are the ID


def test_an_address_is_no_name_but_a_name_beside_it_is() -> None:
    assert CallerName().extract("it's anna hyphen lena at web dot de", ctx()) is None
    assert CallerName().extract("jane at acme dot com", ctx(asked=True)) is None
    assert CallerName().extract("meine E-Mail ist kai at acme punkt de und ich heiße Kai Lorenz", ctx(asked=True)) == "Kai Lorenz"
    assert CallerName().extract("Oliver, and you can reach me at oliver at brightsmith dot com", ctx(asked=True)) == "Oliver"


def test_the_word_e_mail_names_the_field_not_the_email_service_and_a_vague_problem_is_no_description() -> None:
    known = {"Email delivery": ["emails", "e-mail"]}
    assert AffectedServices().extract("ich habe keine E-Mail", ctx(known_services=known)) is None
    assert AffectedServices().extract("the email notifications stopped", ctx(known_services=known)) == ["Email delivery"]
    assert IncidentDescription().extract("yes there is a problem", ctx(asked=True)) is None
    assert IncidentDescription().extract("yes there is a problem with the checkout", ctx(asked=True)) is not None


def test_each_kind_of_field_names_its_reason_line() -> None:
    assert [g.reason for g in (CallerName(), ContactNumber(), Email(), IncidentDescription(), AffectedServices())] == [
        "reason_name", "reason_phone", "reason_email", "reason_incident", "reason_services",
    ]
    assert CustomGather("x", label="x", question="?").reason is None  # free text takes any answer
    assert CustomGather("x", label="x", question="?", regex=r"\d+").reason == "reason_format"
    assert CustomGather("x", label="x", question="?", value_type="number").reason == "reason_number"
    assert CustomGather("x", label="x", question="?", choices=["a", "b"]).reason == "reason_choice"


def test_services_in_a_line_answering_another_question_need_a_problem() -> None:
    known = {"Payments": ["billing"], "Checkout API": ["checkout"]}
    name_asked = ctx(known_services=known, asked_for="caller_name")
    assert AffectedServices().extract("Rita Moreno from Payments Direct", name_asked) is None  # a company, not a service
    assert AffectedServices().extract("it's Sam, the checkout is down", name_asked) == ["Checkout API"]
    assert AffectedServices().extract("the checkout shows a white page", ctx(known_services=known, asked_for="incident")) == ["Checkout API"]
    asked = ctx(known_services=known, asked=True)
    assert AffectedServices().extract("the whole thing", asked) is None
    assert AffectedServices().extract("the one you use for invoices", asked) is None
    assert AffectedServices().extract("alles irgendwie", asked) is None
    assert AffectedServices().extract("the warehouse app and the CRM", asked) == ["the warehouse app", "the CRM"]
    assert AffectedServices().extract("all of it, the website", asked) == ["the website"]


def test_when_it_started_is_no_description() -> None:
    assert IncidentDescription().extract("it started around quarter past eight on monday", ctx(asked=True)) is None
    assert IncidentDescription().extract("es ging so um neun los", ctx(asked=True)) is None
    assert IncidentDescription().extract("it started at nine, the checkout shows a white page", ctx(asked=True, known_services={"Checkout API": []})) is not None


def test_a_spoken_code_is_the_id_not_a_name() -> None:
    gather = CustomGather("customer_id", label="customer ID", question="?", regex=r"(AC-?)?\d{4,8}")
    assert gather.extract("ac-55120", ctx(asked=True)) == "AC-55120"  # the whole code, not only its digits
    assert gather.extract("AC 55120", ctx(asked=True)) == "AC55120"
    assert CallerName().extract("it's ac five five one two zero", ctx()) is None


def test_an_answer_that_says_all_of_them_is_every_service() -> None:
    # Outside check (issue 15): "all of it, everything" was re-asked until the fallback.
    known = {"Payments": ["billing"], "Checkout API": ["checkout"]}
    asked = ctx(known_services=known, asked=True)
    assert AffectedServices().extract("all of it, everything", asked) == ["all services"]
    assert AffectedServices().extract("everything", asked) == ["all services"]
    assert AffectedServices().extract("alles, einfach alles", asked) == ["alle Dienste"]
    assert AffectedServices().extract("all of them I think", asked) is None  # unsure: asked again
    assert AffectedServices().extract("all good", asked) is None
    assert AffectedServices().extract("everything", ctx(known_services=known)) is None  # only as the answer asked for
