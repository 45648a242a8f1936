"""Issue 11 item 13: whatever language the call is in, every fixed line the caller hears is in it, on every path."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from agent.core.lines import BUILT_IN
from agent.flow.loader import check_flow
from agent.flow.models import AgentMessages
from agent.core.registry import default_registry
from agent.core.settings import Settings
from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import Harness, run_live_call, speak
from agent.testing.twiml_interpreter import Spoken
from agent.simulation.simulator import walk_file

GERMAN_CALLER = "+4930123456"

FLOW = """\
name: Multilingual
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's wrong?
    language: en
    languages:
      de: {greeting: "Hallo, was ist passiert?"}
    intents: {incident: human, talk_to_human: human}
    gathers: [caller_name, incident, email, contact_number]
    enrichment:
      sources:
        - type: static
          facts:
            incidents: [{id: INC-7, title: Checkout API returning 502 errors, status: investigating, services: [Checkout API], started_at: -35m}]
            services: [{name: Checkout API, status: major_outage, aliases: [checkout]}]
            status_pages: [{page: status.acme.example, status: major, message: Checkout is failing, components: [Checkout API]}]
    known_issue: human
    fallback: human
  human: {type: route_call, targets: [{type: number, number: "+4930555000"}]}
"""

# Every English default line (templates as patterns); fragments (ago_*, word_*) are parts of lines, not lines.
_ENGLISH = [
    re.compile(".*".join(re.escape(part) for part in re.split(r"\{[a-z_]+\}", text)), re.IGNORECASE)
    for key, text in AgentMessages().model_dump().items() if not key.startswith(("ago_", "word_"))
]


def english_lines(said: list[str]) -> list[str]:
    return [line for line in said if any(pattern.fullmatch(line.strip()) for pattern in _ENGLISH)]


def write_flow(tmp_path: Path, text: str = FLOW) -> Path:
    path = tmp_path / "de.yaml"
    path.write_text(text)
    return path


def test_the_built_in_languages_have_every_line() -> None:
    for language, lines in BUILT_IN.items():
        assert set(lines) <= set(AgentMessages.model_fields), language
        if language != "en":
            assert set(lines) == set(AgentMessages.model_fields), language
            AgentMessages.model_validate(lines)  # placeholders the calls fill


def test_a_german_caller_hears_only_german_in_the_simulator(tmp_path) -> None:
    call, outcome = asyncio.run(walk_file(write_flow(tmp_path), [
        "",  # silence: re-prompted
        "hmm well",  # no match
        "der checkout ist broken",  # the known incident told; anything else?
        "something else, the login is broken too",
        "Jan Schmidt",
        "jan dot schmidt at initech dot com",
        "ja",  # the read-back
        "ja",  # the callback number
    ], caller_number=GERMAN_CALLER))
    said = [t.text for t in call.transcript if t.speaker == "agent"]
    assert said[0] == "Hallo, was ist passiert?"
    assert "Entschuldigung, das habe ich nicht mitbekommen." in said
    assert any(line.startswith("Es gibt eine offene Störung: Checkout API returning 502 errors.") for line in said), said
    assert "Ich habe jan Punkt schmidt ät initech Punkt com notiert. Ist das richtig?" in said
    assert "Bitte bleiben Sie dran, ich verbinde Sie mit dem Bereitschaftsdienst." in said
    assert english_lines(said) == [], said


def test_a_german_caller_hears_only_german_on_the_gather_path(gather_call, tmp_path) -> None:
    record = gather_call(write_flow(tmp_path), [
        Spoken(),  # silence: re-prompted
        "hmm well",  # no match
        "Jan Schmidt hier, der login ist broken",
        "jan dot schmidt at initech dot com",
        "ja",  # the read-back
        "ja",  # the callback number
        "I need a person",  # the hand-over
    ], from_number=GERMAN_CALLER)
    said = record.said
    assert said[0] == "Hallo, was ist passiert?"
    assert "Entschuldigung, das habe ich nicht mitbekommen." in said, said  # the silence re-prompt
    assert "Ich kann bei Störungen, Ausfällen, Sicherheitsvorfällen und technischen Problemen helfen. Was ist Ihr dringendes Anliegen?" in said
    assert "Ich habe jan Punkt schmidt ät initech Punkt com notiert. Ist das richtig?" in said
    assert "Ich verbinde Sie jetzt." in said and "Bitte bleiben Sie dran, ich verbinde Sie mit dem Bereitschaftsdienst." in said
    assert record.dialled == ["+4930555000"]
    assert english_lines(said) == [], said
    assert set(record.said_languages) == {"de-DE"} and set(record.gather_languages) == {"de-DE"}


def test_a_german_callers_fallback_and_pin_lines_are_german(gather_call, tmp_path) -> None:
    flow = FLOW.replace("start: agent", "start: pin").replace("nodes:\n", """nodes:
  pin: {type: pin_code, pins: ["1234"], match: agent, no_match: agent}
""")
    record = gather_call(write_flow(tmp_path, flow), [Spoken(digits="9999"), Spoken(digits="1234"), Spoken(), Spoken(), Spoken()], from_number=GERMAN_CALLER)
    said = record.said
    assert said[:3] == [
        "Bitte geben Sie Ihre PIN ein und drücken Sie danach die Rautetaste.", "Diese PIN ist nicht korrekt.",
        "Bitte geben Sie Ihre PIN ein und drücken Sie danach die Rautetaste.",
    ]
    assert "Ich kann Sie nicht hören, deshalb verbinde ich Sie mit jemandem, der Ihnen helfen kann." in said  # the fallback plugin
    assert english_lines(said) == [], said
    assert set(record.said_languages) == {"de-DE"}


def test_an_american_caller_still_hears_english(gather_call, tmp_path) -> None:
    record = gather_call(write_flow(tmp_path), [Spoken(), "I need a person"], from_number="+14155550134")
    assert record.said[:3] == ["Hello, what's wrong?", "Sorry, I didn't catch that.", "What can I help you with?"]
    assert "Please hold while I connect you to the on-call engineer." in record.said
    assert set(record.said_languages) == {"en-US"}


def test_a_german_caller_hears_the_fail_over_in_german_when_the_model_drops(tmp_path) -> None:
    model = FakeModel([
        Say("Hallo, was ist passiert?"),
        ToolCall("record_details", {"caller_name": "Jan Schmidt", "incident": "der Login ist kaputt"}),
        Say("Danke, Jan."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "Jan Schmidt, der Login ist kaputt")
        await harness.fake_model.wait_for("conversation.item.create", count=1, timeout=10)  # the tool result
        await harness.fake_model.drop()

    record, _, _ = asyncio.run(run_live_call(
        model, caller, flow=write_flow(tmp_path), from_number=GERMAN_CALLER,
        gather_turns=["jan dot schmidt at initech dot com", "ja", "ja", "I need a person"],
    ))
    said = record.said
    assert said[0] == "Entschuldigung, ich habe ein technisches Problem. Machen wir weiter.", said
    assert "Ich verbinde Sie jetzt." in said
    assert record.dialled == ["+4930555000"]
    assert english_lines(said) == [], said
    assert set(record.said_languages) == {"de-DE"}


def test_a_language_without_built_in_lines_must_give_them_all(tmp_path) -> None:
    flow = FLOW.replace('de: {greeting: "Hallo, was ist passiert?"}', 'pl: {greeting: "Dzień dobry, co się stało?", messages: {handover: "Łączę."}}')
    _, problems = check_flow(write_flow(tmp_path, flow), default_registry(), Settings())
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.line == 8  # languages:
    assert "`pl` (Polish)" in problem.message and "languages: pl: messages:" in str(problem)
    assert "no_input" in str(problem) and "technical_problem" in str(problem) and ", handover," not in str(problem)
    listed = FLOW.replace('de: {greeting: "Hallo, was ist passiert?"}', "pl: {}")  # listed only: the realtime model speaks it
    assert check_flow(write_flow(tmp_path, listed), default_registry(), Settings())[1] == []
