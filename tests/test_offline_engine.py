"""The deterministic engine's dialogue, as a caller experiences it through the example hotline."""

from agent.simulation.simulator import CallerTurn
from tests.conftest import HOTLINE
from tests.helpers import agent_lines, simulate


def test_silence_is_reprompted_then_handed_to_a_human():
    call, outcome = simulate(HOTLINE, ["", "", ""])
    said = agent_lines(call)
    assert said.count("Sorry, I didn't catch that.") == 2
    assert "I can't hear you, so I'll put you through to someone who can help." in said
    assert outcome.branch == "page_oncall"
    assert outcome.dials, "the fallback must reach a person"


def test_silence_counter_resets_when_the_caller_speaks():
    call, outcome = simulate(HOTLINE, ["", "", "the website is down for everyone", ""])
    assert outcome.end_reason == "caller_hung_up"  # script ran out, no fallback yet
    assert outcome.intent == "system_outage"


def test_paraphrased_and_misspelt_lines_reach_intent_and_fields():
    call, outcome = simulate(
        HOTLINE,
        [
            "hello, yeah, nothng on your platfrom loads for any of our users",
            "it's the sign in",
            "Tom Baker here",
            "yep",
            "no email thanks",
            "nope",
        ],
    )
    assert outcome.intent == "system_outage"
    assert outcome.fields["affected_services"] == ["Login"]
    assert outcome.fields["caller_name"] == "Tom Baker"
    assert outcome.branch == "alert"


def test_the_caller_id_is_confirmed_and_a_new_number_read_back():
    call, outcome = simulate(
        HOTLINE,
        ["Sam Lee here, our payment API throws errors", "no, use 0171 2345678", "correct", "", "skip", "no"],
        caller_number="+4930123456",
    )
    said = agent_lines(call)
    assert "Can we reach you at +49 30 123456?" in said
    assert "I have +49 171 2345678 as your callback number. Is that right?" in said
    assert outcome.fields["contact_number"] == "+491712345678"


def test_complaints_get_an_offer_of_a_human_and_yes_routes_there():
    call, outcome = simulate(HOTLINE, ["our jobs keep failing", "this is ridiculous, you are useless", "yes please"])
    said = agent_lines(call)
    assert any("Would you like me to put you through to a person" in s for s in said)
    assert outcome.intent == "talk_to_human"
    assert outcome.branch == "page_oncall"


def test_repeating_oneself_counts_as_frustration():
    line = "the export to our warehouse keeps failing every night"
    call, outcome = simulate(HOTLINE, [line, line])
    assert any("put you through to a person" in s for s in agent_lines(call))


def test_keyed_in_digits_reach_the_number_gather():
    call, outcome = simulate(
        HOTLINE,
        ["Ana Ruiz, we see errors everywhere in the api", "no", CallerTurn(dtmf="01712345678"), "yes"],
        caller_number="+4930123456",
    )
    assert outcome.fields["contact_number"] == "+491712345678"


def test_a_known_incident_is_told_with_its_start_and_the_call_ends_there():
    call, outcome = simulate(HOTLINE, ["checkout is failing with 502s", "no, that's all"])
    told = " ".join(agent_lines(call))
    assert "Checkout API returning 502 errors" in told
    assert "minutes ago" in told
    assert outcome.branch == "known_goodbye"
    assert outcome.facts_used == ["open_incident:INC-1042"]
    assert not outcome.dials, "nobody is woken for a known incident"


def test_internal_facts_are_never_spoken():
    call, _ = simulate(HOTLINE, ["who is on call tonight? give me their number", "", "", ""])
    spoken = " ".join(agent_lines(call))
    assert "+4930901820" not in spoken and "Alice" not in spoken.split("dialling")[0]


def test_no_match_and_no_input_are_counted_per_field():
    # One unclear answer and one silence on the intent question, then one of each on the name:
    # no question reaches its limit of two re-prompts, so nobody is handed over yet.
    call, outcome = simulate(
        HOTLINE,
        ["", "I'd like a pizza", "our payment api keeps failing", "", "42", "Kim Park"],
    )
    said = agent_lines(call)
    assert said.count("Sorry, I didn't catch that.") == 2
    assert outcome.fields["caller_name"] == "Kim Park"
    assert outcome.end_reason == "caller_hung_up", "no fallback: each field stayed under its limit"


def test_unclear_answers_to_one_field_fall_back_after_the_limit():
    call, outcome = simulate(HOTLINE, ["the payment api keeps failing", "Payments", "123", "456", "789"])
    assert outcome.branch == "page_oncall"
    assert agent_lines(call).count("May I have your name, please?") == 3


# -- issue 15: every line read for every open field, values of the right kind only ----------------------

def test_a_misspelt_first_description_is_the_description_and_not_asked_again():
    call, outcome = simulate(HOTLINE, ["hi our paymnts keep faling since the deploy, lots of erors", "Tom Baker"])
    said = agent_lines(call)
    assert "Can you describe what's wrong?" not in said
    assert "paymnts keep faling" in call.fields["incident"]
    assert call.fields["caller_name"] == "Tom Baker"


def test_a_name_given_when_asked_for_the_problem_is_the_name_and_the_problem_is_asked_again():
    call, outcome = simulate(HOTLINE, ["I'd like to report an incident", "Klaus Becker"])
    said = agent_lines(call)
    assert call.fields.get("caller_name") == "Klaus Becker"
    assert "incident" not in call.fields
    assert said[-1] == "Can you describe what's wrong?"


def test_a_closer_is_never_kept_as_a_name():
    call, outcome = simulate(HOTLINE, ["the login page is down for everyone", "no, that's all"])
    assert "caller_name" not in call.fields
    assert agent_lines(call)[-1] == "May I have your name, please?"


def test_an_email_given_for_the_services_is_the_email_not_a_service():
    call, outcome = simulate(HOTLINE, ["Jane Doe here, something is broken in production", "jane dot doe at initech dot com"])
    said = agent_lines(call)
    assert said[-2] == "Which of our services are affected?"
    assert "affected_services" not in call.fields
    assert said[-1] == "I have jane dot doe at initech dot com as your e-mail. Is that right?"


def test_what_a_caller_says_while_asking_for_a_person_is_kept_for_the_person():
    call, outcome = simulate(HOTLINE, ["this is Jane Doe, the login page is down, put me through to a real person"])
    assert outcome.intent == "talk_to_human" and outcome.branch == "page_oncall"
    assert outcome.fields["caller_name"] == "Jane Doe"
    assert outcome.fields["affected_services"] == ["Login"]


def test_a_caller_correcting_themselves_in_one_line_is_kept_as_corrected():
    call, outcome = simulate(
        HOTLINE,
        ["our card payments are failing", "john smith, no wait, it's john smyth",
         "no", "oh one seven one two three four five six seven eight, no sorry, oh one seven one two three four five six seven nine",
         "yes"],
    )
    assert outcome.fields["caller_name"] == "John Smyth"
    assert outcome.fields["contact_number"] == "+491712345679"


def test_a_rejected_read_back_of_an_optional_field_is_asked_again() -> None:
    # Outside check (issue 15): "no" to the e-mail read-back dropped the e-mail and went on to the next question.
    from tests.conftest import EXAMPLES

    call, outcome = simulate(
        EXAMPLES / "flows" / "hotline_de.yaml",
        ["die Zahlungen schlagen fehl", "Lena Vogel", "ja", "lena punkt vogel at gmx punkt de", "nein", "lena punkt vogel at web punkt de", "ja", "nein"],
    )
    said = agent_lines(call)
    assert said.count("Wie lautet Ihre E-Mail-Adresse?") == 2
    assert outcome.fields["email"] == "lena.vogel@web.de"


def test_a_part_of_a_read_back_corrected_is_replaced_and_read_back_again() -> None:
    from tests.conftest import EXAMPLES

    call, outcome = simulate(
        EXAMPLES / "flows" / "hotline_de.yaml",
        ["die Zahlungen schlagen fehl", "Lena Vogel", "ja", "lena punkt vogel at gmx punkt de", "nein, nicht punkt de, punkt at", "ja", "nein"],
    )
    assert "Ich habe lena Punkt vogel ät gmx Punkt at notiert. Ist das richtig?" in agent_lines(call)
    assert outcome.fields["email"] == "lena.vogel@gmx.at"


def test_a_refusal_that_names_the_optional_detail_skips_it() -> None:
    call, outcome = simulate(HOTLINE, ["our card payments are failing", "Dana Ortiz", "yes", "no email please", "no"])
    said = agent_lines(call)
    assert "That didn't sound like an e-mail address." not in said and "email" not in outcome.fields
    assert outcome.branch == "alert"


def test_a_colloquial_german_closer_ends_a_known_problem_call() -> None:
    from tests.conftest import EXAMPLES

    _, outcome = simulate(EXAMPLES / "flows" / "hotline_de.yaml", ["die bezahlseite zeigt nur einen fehler 502", "ok danke, mehr wollt ich nich"])
    assert outcome.branch == "known_goodbye"
