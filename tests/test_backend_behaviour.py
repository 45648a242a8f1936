"""Every model backend keeps the same call behaviour: one suite, run once per backend.

Each scenario is a whole live call on the example hotline (or a flow with
short timers): the real server, Twilio's Media Streams client sending paced
8 kHz mu-law (``agent.testing.live``), and the backend's local fake. The
caller notices the same things on every backend: the greeting, the details
gathered and passed to the engineer, barge-in that stops the bot and keeps
only what was heard, keyed-in digits understood, a tool's decision moving
the call on, silence handed to a person, and a model failure carried on in
the deterministic mode with nothing asked twice.

Adding a backend: append one :class:`agent.testing.live.ModelFake` to
``BACKENDS`` (the test ids are its ``name``):

- ``serve(model)``: an async context manager of the backend's local fake,
  scripted by the same :class:`FakeModel` (``Say``/``ToolCall`` actions;
  ``caller_said(line)`` queues what it will hear the caller say);
- ``settings(fake)``: the settings that point the agent at the started fake
  (base URLs, keys); ``model(fake)``: the AI node's ``model:`` block
  (``{"backend": ..., **options}``), written into a copy of the flow;
- ``spoken``, ``heard``, ``typed``, ``break_now``, ``refuse``: what the
  scenarios ask the fake (the bot's lines, what the model kept of a reply cut
  off, the caller's typed turns, breaking it mid-call or from the start).
"""

from __future__ import annotations

import asyncio

import pytest

from agent.conversation.realtime_client import SAY_LEAD
from agent.media.processors.realtime import REPROMPT
from agent.testing.fake_realtime import AZURE_PATH, FakeModel, FakeRealtimeServer, Say, ToolCall, Turn
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import OPENAI_REALTIME, Harness, ModelFake, run_live_call, speak
from tests.conftest import HOTLINE
from tests.helpers import answered, greeted
from tests.test_cascade_backend import CASCADE
from tests.test_gemini_live_backend import GEMINI_LIVE
from tests.test_fixed_lines_once import SILENCE_LINE
from tests.test_live_realtime import QUICK_FLOW  # a node with 1 s silence timers
from tests.test_realtime_no_input import FLOW as SILENT_FLOW  # 1 s silence timers; the fallback and the intents dial apart

AZURE_KEY = "azure-test-key"
AZURE_DEPLOYMENT = "gpt-realtime-eu"

#: The openai_realtime backend in Azure OpenAI's dialect (GA endpoint, ``api-key`` header) against the realtime fake.
AZURE = ModelFake(
    "azure",
    serve=lambda model: FakeRealtimeServer(model, path=AZURE_PATH, auth="api-key"),
    settings=lambda fake: {"azure_openai_api_key": AZURE_KEY},
    model=lambda fake: {"backend": "openai_realtime", "azure_endpoint": fake.endpoint, "deployment": AZURE_DEPLOYMENT},
)

BACKENDS: list[ModelFake] = [OPENAI_REALTIME, AZURE, GEMINI_LIVE, CASCADE]

GREETING = "Hello, I'm ACME's on-call assistant. What's going on?"  # examples/flows/hotline.yaml
ON_CALL = "+4930901820"  # who the example hotline dials


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.name)
def backend(request: pytest.FixtureRequest) -> ModelFake:
    return request.param


def test_greets_gathers_and_routes_the_caller_with_a_briefing(backend: ModelFake) -> None:
    model = FakeModel([
        Say(GREETING),
        ToolCall("record_details", {"incident": "Login page times out for all users", "affected_services": ["login"], "caller_name": "Jane Doe"}),
        Say("Thanks Jane. Can we reach you at the number you are calling from?"),
        ToolCall("record_details", {"contact_number": "+4915112345678"}),
        ToolCall("route_call", {"intent": "system_outage", "summary": "Login down for all users"}),
        Say("I'm connecting you now."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await greeted(call)
        await speak(call, harness.fake_model, "Hi, Jane Doe here, the login page times out for everyone")
        await answered(call)
        await speak(call, harness.fake_model, "yes that's fine")

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, backend=backend))
    assert harness.media is not None and harness.media.first_audio_at is not None, "the caller heard the greeting"
    assert backend.spoken(fake)[0] == GREETING, "the node's greeting, heard to its end"
    assert len(harness.redirects) == 1 and harness.redirects[0].startswith(harness.base + "/twilio/continue?")
    assert record.dialled == [ON_CALL]
    assert "Jane Doe called the hotline about: system outage" in record.whispers[0], "the gathered name reached the engineer"
    assert "+49 1511 2345678" in record.whispers[0], "and the callback number"
    assert not fake.problems


def put_through() -> FakeModel:
    """A model that greets, routes the caller to a person and says the hand-over line."""
    return FakeModel([
        Say(GREETING),
        ToolCall("route_call", {"intent": "talk_to_human", "summary": "caller wants a person", "details_declined": True}),
        Say("I'm connecting you now."),
    ])


def test_a_tools_decision_moves_the_call_on_after_the_model_said_the_hand_over_line(backend: ModelFake) -> None:
    model = put_through()

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await greeted(call)
        await speak(call, harness.fake_model, "just put me through to a person please")

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, backend=backend))
    assert "I'm connecting you now." in backend.spoken(fake)
    assert not any("connecting you now" in line for line in record.said), "said by the model: Twilio does not say it again"
    assert record.dialled == [ON_CALL], "the talk_to_human branch: the on-call engineer"
    assert len(harness.redirects) == 1


def test_barge_in_stops_the_bot_and_the_model_keeps_only_what_was_heard(backend: ModelFake) -> None:
    long_greeting = "Hello, I'm ACME's on-call assistant. " + "Please tell me in detail what is going on today. " * 6
    model = FakeModel([
        Say(long_greeting),
        ToolCall("route_call", {"intent": "talk_to_human", "summary": "caller wants a person", "details_declined": True}),
        Say("I'm connecting you now."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=1500, timeout=10)  # part of a long greeting
        await speak(call, harness.fake_model, "sorry to interrupt, get me a person")

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, backend=backend))
    assert harness.media.clears >= 1, "Twilio was told to drop the bot's unplayed audio"
    heard = backend.heard(fake)
    assert len(heard) == 1, "one reply was cut off"
    assert heard[0] and long_greeting.startswith(heard[0]), "the model keeps the words the caller heard"
    assert len(heard[0]) < len(long_greeting.strip()), "and not the ones they did not"
    assert record.dialled == [ON_CALL]


def test_keyed_in_digits_reach_the_model_and_the_engineer(backend: ModelFake) -> None:
    model = FakeModel([
        Say(GREETING),
        lambda turn: [ToolCall("record_details", {"contact_number": turn.user_text.rsplit(" ", 1)[-1]}),
                      ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person", "details_declined": True})],
        Say("Connecting you."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=10)
        for key in "01712345678#":
            await call.press(key)

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, backend=backend))
    assert backend.typed(fake) == ["I keyed in on my phone: 01712345678"]
    assert "Call back on +49 171 2345678." in record.whispers[0]


def test_a_silent_caller_is_reprompted_then_handed_to_a_person(backend: ModelFake, tmp_path) -> None:
    flow = tmp_path / "quick.yaml"
    flow.write_text(QUICK_FLOW)
    model = FakeModel([Say("Hello, what's going on?"), Say("Are you still there?"), Say("I'm putting you through to a person now.")])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await asyncio.sleep(30)  # says nothing at all

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=flow, backend=backend))
    spoken = backend.spoken(fake)
    assert spoken[:2] == ["Hello, what's going on?", "Are you still there?"], "re-prompted once after the silence"
    assert record.dialled == ["+4930555000"], "then handed to the fallback: a person"


def answers_what_it_is_asked(*replies: str):
    """A model that says the line it is asked to say, re-prompts when asked to, and else answers ``replies`` in turn.

    Every backend asks in its own place: the response's instructions (openai_realtime),
    one inference's system message (cascade), a system note as the user's turn (gemini_live).
    """
    left = list(replies)

    def respond(turn: Turn) -> list[Say]:
        for asked in (turn.instructions or "", turn.user_text or ""):
            if SAY_LEAD in asked:
                return [Say(asked.split(SAY_LEAD, 1)[1].strip())]
            if REPROMPT in asked:
                return [Say("Are you still there?")]
        return [Say(left.pop(0) if left else "Okay.")]

    return respond


def test_a_silence_counts_against_the_open_question_whatever_the_caller_said_between(backend: ModelFake, tmp_path) -> None:
    """max_no_input 1: words after the greeting (so the name is the open question), silent on the name (re-prompted),
    words that are no name, silent again: handed on, no second re-prompt."""
    path = tmp_path / "silent.yaml"
    path.write_text(SILENT_FLOW.format(max_no_input=1))
    model = FakeModel(answers_what_it_is_asked("Hello, what's going on? May I have your name?", "Take your time."))

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await greeted(call)
        await speak(call, harness.fake_model, "hmm, hang on")  # "Take your time." plays in the pause after it
        await call.wait_until_quiet(ms=300, timeout=10, drain=True)
        await answered(call)  # silent: re-prompted
        await speak(call, harness.fake_model, "hmm, hang on")
        await asyncio.sleep(30)

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=path, backend=backend))
    spoken = backend.spoken(fake)
    assert spoken == [
        "Hello, what's going on? May I have your name?", "Take your time.", "Are you still there?", "Okay.", SILENCE_LINE,
    ]
    assert record.dialled == ["+4930555000"], "the node's fallback branch (its intents dial +4930111111)"


def test_a_model_failing_mid_call_is_carried_on_in_the_deterministic_mode_with_what_was_gathered(backend: ModelFake) -> None:
    model = FakeModel([
        Say("Hello, what's going on?"),
        ToolCall("record_details", {"caller_name": "Jane Doe", "incident": "payments API returns errors", "affected_services": ["Payments"]}),
        Say("Thanks Jane."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await greeted(call)
        await speak(call, harness.fake_model, "Jane Doe, the payments API returns errors")
        await call.wait_for_audio(ms=200, timeout=10, new=True)  # "Thanks Jane.": the details were recorded
        await backend.break_now(harness.fake_model)

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, backend=backend, gather_turns=["yes", "no", "no"]))
    said = " ".join(record.said)
    assert "Sorry, I'm having a technical problem. Let's continue." in said
    assert "Can we reach you at +49 1511 2345678?" in said, "the deterministic mode asks for what is still missing"
    assert "May I have your name" not in said, "what the model gathered is kept"
    assert record.dialled == [ON_CALL]
    assert "Jane Doe called the hotline" in record.whispers[0]


def test_a_model_refused_from_the_start_hands_the_call_to_the_deterministic_mode(backend: ModelFake) -> None:
    record, harness, fake = asyncio.run(run_live_call(
        FakeModel([]), lambda call, harness: asyncio.sleep(30), flow=HOTLINE, backend=backend,
        fault=backend.refuse, gather_turns=["I need a human"],
    ))
    assert "Sorry, I'm having a technical problem. Let's continue." in " ".join(record.said)
    assert record.dialled == [ON_CALL]


# --- what each dialect of openai_realtime sends on the WebSocket handshake ----------------------

@pytest.mark.parametrize(("dialect", "path", "query", "key_header", "key"), [
    # https://platform.openai.com/docs/guides/realtime-websocket: wss://api.openai.com/v1/realtime?model=..., Bearer key
    (OPENAI_REALTIME, "/v1/realtime", {"model": ["gpt-realtime"]}, "Authorization", "Bearer sk-test"),
    # https://learn.microsoft.com/azure/ai-foundry/openai/how-to/realtime-audio-websockets (GA v1 endpoint)
    (AZURE, AZURE_PATH, {"model": [AZURE_DEPLOYMENT]}, "api-key", AZURE_KEY),
], ids=lambda value: value.name if isinstance(value, ModelFake) else None)
def test_each_dialect_sends_its_path_query_and_key(dialect: ModelFake, path: str, query: dict, key_header: str, key: str) -> None:
    model = put_through()

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await greeted(call)
        await speak(call, harness.fake_model, "a person please")

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, backend=dialect))
    assert fake.handshakes and all(h.status == 101 for h in fake.handshakes)
    for handshake in fake.handshakes:  # the early connection and any retry alike
        assert handshake.path.split("?")[0] == path
        assert handshake.query == query
        assert handshake.headers[key_header] == key
        other = {"api-key": "Authorization", "Authorization": "api-key"}[key_header]
        assert other not in handshake.headers, "one key, in the dialect's header only (the OpenAI key never goes to Azure)"
    assert record.dialled == [ON_CALL]
