"""The gemini_live backend against a local fake of the Gemini Live API, in a call's pipeline.

The model processor runs as in a call (model -> tool handlers -> transport
out), with Pipecat's worker; Twilio is a list of the messages transport out
writes (marks are echoed as if played, unless a test plays them itself).
What we send is checked twice: against what the fake recorded, and against
what the ``google-genai`` SDK itself writes for the same message
(``google/genai/live.py`` and ``_live_converters.py``); what the fake sends is
parsed with the SDK's own reader (``_LiveServerMessage_from_mldev``,
``types.LiveServerMessage``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    FunctionCallInProgressFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from agent.conversation.session import NodeSession
from agent.conversation.tools import ToolBox
from agent.core.call import Call
from agent.core.registry import load_registry
from agent.core.settings import Settings
from agent.flow.loader import load_flow
from agent.flow.models import AiAgentNode
from agent.media import mulaw
from agent.media.backends.base import ModelRequest
from agent.media.backends.gemini_live import (
    NOTE,
    GeminiConfig,
    GeminiLiveBackend,
    GeminiLiveOptions,
    audio_message,
    context_update,
    heard_note,
    realtime_text,
    tool_response,
)
from agent.media.frames import CallerAudioFrame, KeypadEntryFrame, ModelInstructionsFrame, TwilioMarkFrame
from agent.media.processors.tool_handlers import ToolHandlers
from agent.media.processors.twilio_output import TwilioMediaOutput
from agent.media.processors.twilio_sender import TwilioMediaSender
from agent.testing.fake_gemini_live import FakeGeminiLiveServer
from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from agent.testing.live import ModelFake
from tests.conftest import HOTLINE

# The SDK is the wire contract (in the `dev` extra): google/genai/live.py, _live_converters.py, types.py.
from google import genai  # noqa: E402
from google.genai import _common, _live_converters, types  # noqa: E402
from google.genai import _transformers as t  # noqa: E402
from google.genai.live import AsyncSession  # noqa: E402

KEY = "test-gemini-key"
INSTRUCTIONS = "You answer ACME's on-call hotline."
REGISTRY = load_registry()
FLOW = load_flow(HOTLINE, REGISTRY)
NODE_ID, NODE = next((k, v) for k, v in FLOW.nodes.items() if isinstance(v, AiAgentNode))


class Recorder(FrameProcessor):
    """The end of the chain: keeps what reaches it."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.frames: list[Frame] = []
        self.times: list[float] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.frames.append(frame)
        self.times.append(time.monotonic())
        await self.push_frame(frame, direction)

    def at(self, kind: type) -> list[float]:
        return [t for f, t in zip(self.frames, self.times) if isinstance(f, kind)]

    def of(self, kind: type) -> list[Any]:
        return [f for f in self.frames if isinstance(f, kind)]


@dataclass
class GeminiCall:
    """One AI node conversation on the gemini_live backend; Twilio's side as lists."""

    worker: PipelineWorker
    model: Any
    session: NodeSession
    out: Recorder
    to_twilio: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[Any] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    echo_marks: bool = True

    def twilio(self, event: str) -> list[dict[str, Any]]:
        return [m for m in self.to_twilio if m["event"] == event]

    def played_mulaw(self) -> bytes:
        return b"".join(base64.b64decode(m["media"]["payload"]) for m in self.twilio("media"))

    async def echo(self, mark: str) -> None:
        await self.worker.queue_frame(TwilioMarkFrame(mark=mark))

    async def speak(self, ms: int, *, loud: bool = True) -> None:
        """The caller's audio as Twilio sends it: 20 ms mu-law frames, in real time / 4."""
        frame = mulaw.tone(300, 20) if loud else mulaw.SILENCE * 160
        for _ in range(ms // 20):
            await self.worker.queue_frame(CallerAudioFrame(payload=base64.b64encode(frame).decode(), mulaw=frame))
            await asyncio.sleep(0.005)


async def until(condition, timeout: float = 5.0, what: str = "") -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what or condition}")


@contextlib.asynccontextmanager
async def gemini_call(
    server: FakeGeminiLiveServer, *, echo_marks: bool = True, answer_timeout_s: float | None = None,
    connect_timeout_s: float | None = None, early: Any = None, **options: Any,
):
    session = NodeSession.build(NODE_ID, NODE, Call(caller_number="+4915112345678"), REGISTRY, region="DE", timezone=FLOW.timezone)
    tools = ToolBox(session)
    settings = Settings(_env_file=None, gemini_api_key=KEY, gemini_base_url=server.url)
    backend = GeminiLiveBackend(settings)
    call: GeminiCall | None = None

    async def on_decision(decision: Any) -> None:
        call.decisions.append(decision)  # type: ignore[union-attr]

    async def on_failure(kind: str, reason: str) -> None:
        call.failures.append((kind, reason))  # type: ignore[union-attr]

    async def send_text(text: str) -> None:
        message = json.loads(text)
        call.to_twilio.append(message)  # type: ignore[union-attr]
        if message["event"] == "mark" and call.echo_marks:  # type: ignore[union-attr]
            asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(call.echo(message["mark"]["name"])))  # type: ignore[union-attr]

    model = backend.processor(ModelRequest(
        call_id="CA" + "0" * 32, node=NODE, session=session, tools=tools, instructions=INSTRUCTIONS, settings=settings,
        options=GeminiLiveOptions(**options), on_decision=on_decision, on_failure=on_failure,
        preconnected=early(backend) if early is not None else None,
    ))
    if answer_timeout_s is not None:
        model._config.answer_timeout_s = answer_timeout_s
    if connect_timeout_s is not None:
        model._config.connect_timeout_s = connect_timeout_s
    out = Recorder()
    worker = PipelineWorker(
        Pipeline([model, ToolHandlers(tools), TwilioMediaOutput(TwilioMediaSender(send_text, "MZ1")), out]),
        params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000, enable_metrics=False),
        enable_rtvi=False, enable_turn_tracking=False, idle_timeout_secs=None, check_dangling_tasks=False,
    )
    call = GeminiCall(worker, model, session, out, echo_marks=echo_marks)
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        yield call
    finally:
        await worker.queue_frame(EndFrame())
        try:
            await asyncio.wait_for(running, 5)
        except TimeoutError:
            await worker.cancel()
            await asyncio.gather(running, return_exceptions=True)


def _gemini_heard(fake: FakeGeminiLiveServer) -> list[str]:
    """What the model was told the caller heard of each reply they cut off (the note after a barge-in)."""
    notes = [c["turns"][0]["parts"][0]["text"] for session in fake.sessions for c in session.client_contents]
    return [m.group(1) for n in notes if (m := re.search(r'heard only this much of your last reply: "([^"]*)"', n))]


#: The gemini_live backend against the fake Gemini Live API, for the behaviour suite (tests/test_backend_behaviour.py).
GEMINI_LIVE = ModelFake(
    "gemini_live",
    serve=FakeGeminiLiveServer,
    settings=lambda fake: {"gemini_api_key": KEY, "gemini_base_url": fake.url},
    model=lambda fake: {"backend": "gemini_live"},
    spoken=lambda fake: list(fake.spoken),
    heard=_gemini_heard,
    # the caller's typed turns: realtime texts that are neither the greeting's request nor a note of ours
    typed=lambda fake: [text for s in fake.sessions for text in s.texts if not text.startswith(("Greet the caller", NOTE))],
    break_now=lambda fake: fake.drop(),
    refuse=lambda fake: fake.refuse_connections(403),
)


def dominant_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(pcm.size)))
    return float(np.fft.rfftfreq(pcm.size, 1 / rate)[spectrum.argmax()])


# -- a call ---------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_the_greeting_is_asked_for_and_its_audio_reaches_twilio_as_8khz_mulaw() -> None:
    model = FakeModel([Say("Hello, this is ACME's on-call line.", audio_ms=1200)])
    async with FakeGeminiLiveServer(model) as server, gemini_call(server) as call:
        await until(lambda: len(call.played_mulaw()) >= 1200 * 8 - 40, what="the greeting's audio at Twilio")
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the end of the reply")
    session = server.session
    path, headers, status = server.handshakes[0]
    assert (path, status) == ("/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent", 101)
    assert headers["x-goog-api-key"] == KEY
    setup = session.setup
    assert setup["model"] == "models/gemini-3.8-live"
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert setup["generationConfig"]["speechConfig"] == {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Charon"}}, "languageCode": "en-US"}
    assert session.system_instruction == INSTRUCTIONS
    assert session.declared == {"record_details", "route_call", "check_status", "end_call"}
    assert session.texts[0] == f"Greet the caller with exactly these words: {call.session.greeting}"
    played = call.played_mulaw()
    assert abs(len(played) - 1200 * 8) <= 40, "24 kHz in, 8 kHz mu-law out: 8 bytes a millisecond"
    assert abs(dominant_hz(mulaw.decode(played), 8000) - 440) < 10, "the model's voice, not noise"
    assert [f.text for f in call.out.of(TTSTextFrame)] == ["Hello, this is ACME's on-call line."]
    assert server.problems == [] and call.failures == []


@pytest.mark.anyio
async def test_the_callers_audio_reaches_gemini_as_16khz_pcm_and_their_words_come_back() -> None:
    model = FakeModel([Say("Hello."), Say("I see, the database is down.")])
    async with FakeGeminiLiveServer(model) as server, gemini_call(server) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        server.caller_said("Our database is down.")
        await call.speak(600)
        await call.speak(700, loud=False)
        await until(lambda: len(call.out.of(LLMFullResponseEndFrame)) == 2, what="the answer to the caller")
    session = server.session
    assert set(session.audio_mime_types) == {"audio/pcm;rate=16000"}
    assert abs(session.audio_ms - 1300) <= 20, "every 20 ms of mu-law became 20 ms of 16 kHz PCM"
    assert [f.text for f in call.out.of(TranscriptionFrame)] == ["Our database is down."]
    kinds = [type(f) for f in call.out.frames if isinstance(f, (UserStartedSpeakingFrame, UserStoppedSpeakingFrame, LLMFullResponseStartFrame))]
    assert kinds[-3:] == [UserStartedSpeakingFrame, UserStoppedSpeakingFrame, LLMFullResponseStartFrame]
    stopped, replied = call.out.at(UserStoppedSpeakingFrame)[-1], call.out.at(LLMFullResponseStartFrame)[-1]
    assert replied - stopped >= 0.1, "the caller's turn ends with their silence, not when the reply comes (150 ms later)"
    assert server.problems == []


@pytest.mark.anyio
async def test_a_tool_call_runs_through_our_tools_and_the_answer_goes_back_as_tool_response() -> None:
    model = FakeModel(["Hello.", ToolCall("record_details", {"caller_name": "Jane Doe"}), "Thanks Jane."])
    async with FakeGeminiLiveServer(model) as server, gemini_call(server) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        server.caller_said("This is Jane Doe.")
        await call.speak(400)
        await call.speak(700, loud=False)
        await server.wait_for("toolResponse")
        await until(lambda: len(call.out.of(LLMFullResponseEndFrame)) == 2, what="the reply after the tool")
    in_progress = call.out.of(FunctionCallInProgressFrame)
    assert [(f.function_name, json.loads(f.arguments)) for f in in_progress] == [("record_details", {"caller_name": "Jane Doe"})]
    call_id = next(m for m in server.session.sent if "toolCall" in m)["toolCall"]["functionCalls"][0]["id"]
    [answer] = server.session.tool_responses
    assert answer["id"] == call_id and answer["name"] == "record_details"
    assert answer["response"]["output"]["saved"] == {"caller_name": "Jane Doe"}
    assert [f.text for f in call.out.of(TTSTextFrame)][-1] == "Thanks Jane."
    assert server.problems == []


@pytest.mark.anyio
async def test_a_refused_tool_call_goes_back_as_an_error_the_model_can_act_on() -> None:
    model = FakeModel(["Hello.", ToolCall("route_call", {"intent": "no_such_intent", "summary": "?"}), "Sorry."])
    async with FakeGeminiLiveServer(model) as server, gemini_call(server) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        server.caller_said("Something.")
        await call.speak(400)
        await call.speak(700, loud=False)
        await server.wait_for("toolResponse")
    [answer] = server.session.tool_responses
    assert set(answer["response"]) == {"error"} and "no_such_intent" in json.dumps(answer["response"]["error"])
    assert call.decisions == []


@pytest.mark.anyio
async def test_a_decision_has_the_handover_line_said_and_reaches_on_decision_once_it_was_heard() -> None:
    route = ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person"})
    model = FakeModel(["Hello.", route, Say("I'm connecting you now.", audio_ms=800)])
    async with FakeGeminiLiveServer(model) as server, gemini_call(server, echo_marks=False) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        for mark in call.twilio("mark"):
            await call.echo(mark["mark"]["name"])
        server.caller_said("Put me through to a person.")
        await call.speak(400)
        await call.speak(700, loud=False)
        await until(lambda: len(call.out.of(LLMFullResponseEndFrame)) == 2, what="the hand-over line")
        assert call.decisions == [], "not before the caller has heard the line"
        for mark in call.twilio("mark"):
            await call.echo(mark["mark"]["name"])
        await until(lambda: call.decisions, what="on_decision")
        await asyncio.sleep(0.1)
    [answer] = server.session.tool_responses
    assert answer["response"]["output"]["ok"] is True
    assert "I'm connecting you now." in answer["response"]["output"]["say_now"], "the line rides in the tool's answer"
    [decision] = call.decisions
    assert (decision.target, decision.intent, decision.say) == ("page_oncall", "talk_to_human", ""), "heard: not said again"
    assert call.failures == [] and server.problems == []


def heard_words(server: FakeGeminiLiveServer) -> str:
    """The words the note after a barge-in says the caller heard."""
    [note] = server.session.client_contents
    assert note["turnComplete"] is False, "a note for the context, not a turn to answer"
    heard = re.search(r'heard only this much of your last reply: "([^"]*)"', note["turns"][0]["parts"][0]["text"])
    assert heard is not None, note
    return heard.group(1)


@pytest.mark.anyio
async def test_the_caller_interrupting_the_model_clears_twilio_and_the_model_learns_what_was_heard() -> None:
    long_reply = Say("one two three four five six seven eight nine ten", audio_ms=2000)
    model = FakeModel([long_reply, "Yes?"])
    async with FakeGeminiLiveServer(model, audio_speedup=1) as server, gemini_call(server, echo_marks=False) as call:
        await until(lambda: len(call.played_mulaw()) >= 800 * 8, what="the first part of the reply at Twilio")
        for mark in call.twilio("mark")[:2]:  # Twilio played the first ~400 ms
            await call.echo(mark["mark"]["name"])
        server.caller_said("Wait, stop.")
        await call.speak(200)  # the server's VAD hears it while the model still generates: `interrupted`
        await until(lambda: call.twilio("clear"), what="Twilio's buffer cleared")
        await server.wait_for("clientContent")
        sent_at_clear = len(call.twilio("media"))
        await asyncio.sleep(0.3)
        assert len(call.twilio("media")) == sent_at_clear, "nothing more of the interrupted reply is played"
    assert any(m.get("serverContent", {}).get("interrupted") for m in server.session.sent)
    heard = heard_words(server)
    assert heard.startswith("one") and "ten" not in heard
    assert call.out.of(UserStartedSpeakingFrame), "the caller is speaking"
    assert call.decisions == [] and call.failures == []


@pytest.mark.anyio
async def test_local_vad_barge_in_stops_a_reply_the_model_already_finished() -> None:
    """Gemini generates faster than Twilio plays: once its turn is complete only our VAD can stop the bot."""
    long_reply = Say("one two three four five six seven eight nine ten", audio_ms=2000)
    async with FakeGeminiLiveServer(FakeModel([long_reply]), audio_speedup=20) as server, gemini_call(server, echo_marks=False) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the model's turn complete")
        marks = call.twilio("mark")
        for mark in marks[: len(marks) // 2]:  # Twilio played about half of it
            await call.echo(mark["mark"]["name"])
        await call.worker.queue_frame(VADUserStartedSpeakingFrame())
        await until(lambda: call.twilio("clear"), what="Twilio's buffer cleared")
        await server.wait_for("clientContent")
    heard = heard_words(server)
    assert heard.startswith("one two") and "nine ten" not in heard
    assert not any(m.get("serverContent", {}).get("interrupted") for m in server.session.sent)


@pytest.mark.anyio
async def test_the_callers_first_words_over_a_finished_reply_still_playing_stop_the_bot() -> None:
    """Without the local VAD: Gemini's VAD interrupts only while it generates; its transcript of the caller does the rest."""
    long_reply = Say("one two three four five six seven eight nine ten", audio_ms=2000)
    async with FakeGeminiLiveServer(FakeModel([long_reply, "Yes?"]), audio_speedup=20) as server, gemini_call(server, echo_marks=False) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the model's turn complete")
        marks = call.twilio("mark")
        for mark in marks[:3]:
            await call.echo(mark["mark"]["name"])
        server.caller_said("Hold on please.")
        await call.speak(300)
        await until(lambda: call.twilio("clear"), what="Twilio's buffer cleared")
        await server.wait_for("clientContent")
        await call.speak(700, loud=False)
        await until(lambda: len(call.out.of(LLMFullResponseEndFrame)) == 2, what="the answer to the caller")
    assert not any(m.get("serverContent", {}).get("interrupted") for m in server.session.sent)
    assert heard_words(server).startswith("one")
    assert [f.text for f in call.out.of(TranscriptionFrame)] == ["Hold on please."]


@pytest.mark.anyio
async def test_keys_and_new_instructions_reach_the_model() -> None:
    async with FakeGeminiLiveServer(FakeModel(["Hello.", "Thanks."])) as server, gemini_call(server) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        await call.worker.queue_frame(ModelInstructionsFrame(instructions="Facts: the API is down."))
        await call.worker.queue_frame(KeypadEntryFrame(digits="4711"))
        await server.wait_for("realtimeInput.text", count=2)
        await server.wait_for("contextUpdate")
    assert server.session.texts[1] == "I keyed in on my phone: 4711"
    assert server.session.system_instruction == "Facts: the API is down."
    assert "(keys 4711)" in [f.text for f in call.out.of(TranscriptionFrame)]


@pytest.mark.anyio
async def test_the_early_connection_is_used_and_one_lost_before_its_setup_is_replaced() -> None:
    async with FakeGeminiLiveServer(FakeModel(["Hello."])) as server:
        async with gemini_call(server, early=lambda backend: backend.connect_early(GeminiLiveOptions())) as call:
            await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        assert len(server.handshakes) == 1, "the connection opened while Twilio set up the stream is the session's"

        async def lost_early(backend: GeminiLiveBackend) -> Any:
            conn = await backend.connect_early(GeminiLiveOptions())
            await server.drop()  # gone before the stream arrived
            return conn

        async with gemini_call(server, early=lambda backend: asyncio.ensure_future(lost_early(backend))) as call:
            await until(lambda: len(call.out.of(LLMFullResponseEndFrame)) == 1, what="the greeting on a new connection")
        assert len(server.handshakes) == 3 and call.failures == []


MALFORMED = [
    b"not json", "[]", "3", '{"serverContent": []}', '{"serverContent": {"modelTurn": {"parts": "x"}}}',
    '{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000"}}]}}}',
    '{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/mp3", "data": "AAAA"}}]}}}',
    '{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "***"}}]}}}',
    '{"toolCall": {"functionCalls": [{"name": "route_call"}]}}', '{"toolCall": {"functionCalls": "x"}}',
    '{"toolCallCancellation": {"ids": 5}}', '{"serverContent": {"inputTranscription": {"text": 7}}}',
    '{"somethingNew": {}}', "{" * 5000 + "}" * 5000, "x" * (2 * 1024 * 1024),
]


@pytest.mark.anyio
async def test_malformed_messages_are_skipped_and_only_a_stream_of_garbage_fails_over() -> None:
    async with FakeGeminiLiveServer(FakeModel(["Hello."])) as server, gemini_call(server) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        for raw in MALFORMED:
            await call.model.receive(raw)
        assert call.failures == [], "each one skipped; the call goes on"
        for _ in range(25):
            await call.model.receive(b"\x00garbage")
        await failed_once(call, "garbage")


# -- fail-over --------------------------------------------------------------------------------------

async def failed_once(call: GeminiCall, kind: str) -> None:
    await until(lambda: call.failures, what=f"on_failure({kind})")
    await asyncio.sleep(0.3)
    assert [k for k, _ in call.failures] == [kind], call.failures


@pytest.mark.anyio
async def test_a_refused_connection_fails_over_once() -> None:
    async with FakeGeminiLiveServer() as server:
        server.refuse_connections(403)
        async with gemini_call(server) as call:
            await failed_once(call, "connect")
    assert "403" in call.failures[0][1]


@pytest.mark.anyio
async def test_a_refused_setup_fails_over_once() -> None:
    async with FakeGeminiLiveServer() as server:
        server.close_after_setup(1008, "models/nope is not found")
        async with gemini_call(server, model="nope") as call:
            await failed_once(call, "connect")
    assert server.session.setup["model"] == "models/nope"


@pytest.mark.anyio
async def test_a_closed_connection_mid_call_fails_over_once() -> None:
    async with FakeGeminiLiveServer(FakeModel(["Hello."])) as server, gemini_call(server) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        await server.drop(1011, "internal error")
        await failed_once(call, "connection_lost")
        await call.speak(100)  # audio after the loss is not sent, and fails nothing again
        await asyncio.sleep(0.1)
    assert "1011" in call.failures[0][1]
    assert len(call.failures) == 1


@pytest.mark.anyio
async def test_go_away_hands_the_call_on_before_the_session_ends() -> None:
    async with FakeGeminiLiveServer(FakeModel(["Hello."])) as server, gemini_call(server) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        await server.go_away("20s")
        await failed_once(call, "go_away")


@pytest.mark.anyio
async def test_a_setup_never_answered_fails_over_once() -> None:
    async with FakeGeminiLiveServer() as server:
        server.stall()
        async with gemini_call(server, connect_timeout_s=0.5) as call:
            await failed_once(call, "connect")


@pytest.mark.anyio
async def test_a_model_that_never_answers_fails_over_after_the_answer_timeout() -> None:
    async def silent(turn) -> None:
        await asyncio.sleep(3600)

    async with FakeGeminiLiveServer(FakeModel(silent)) as server, gemini_call(server, answer_timeout_s=0.6) as call:
        await failed_once(call, "no_answer")
    assert server.session.texts, "the greeting was asked for"


# -- the backend ------------------------------------------------------------------------------------

def test_without_a_key_flow_validate_says_which_setting_to_set() -> None:
    backend = GeminiLiveBackend(Settings(_env_file=None))
    [problem] = backend.problems(GeminiLiveOptions(), NODE)
    assert "VOICE_AGENT_GEMINI_API_KEY" in problem
    assert backend.problems(GeminiLiveOptions(), NODE) != [] and "VOICE_AGENT_GEMINI_API_KEY" in backend.env_vars()


def test_a_thinking_model_is_refused_because_it_would_not_wait_for_our_tools() -> None:
    backend = GeminiLiveBackend(Settings(_env_file=None, gemini_api_key=KEY))
    assert backend.problems(GeminiLiveOptions(), NODE) == []
    [problem] = backend.problems(GeminiLiveOptions(model="gemini-3.8-live-extended-thinking"), NODE)
    assert "without thinking" in problem


def test_options_refuse_a_base_url_that_is_not_a_websocket() -> None:
    with pytest.raises(ValueError, match="WebSocket URL"):
        GeminiLiveOptions(base_url="https://generativelanguage.googleapis.com")
    with pytest.raises(ValueError):
        GeminiLiveOptions(api_key="in-the-flow")  # keys are settings, never options


def test_limits_name_the_rules_gemini_live_cannot_keep() -> None:
    assert {"truncation", "barge_in", "speaker_tracking", "session"} <= set(GeminiLiveBackend.limits)


def test_the_backend_is_registered_as_a_builtin() -> None:
    assert load_registry().backends.get("gemini_live") is GeminiLiveBackend


# -- the wire format, against the SDK ---------------------------------------------------------------

def camel(value: Any) -> Any:
    """Keys in lowerCamelCase, as the API's JSON reads either spelling; audio ``data`` as the bytes it encodes.

    (The SDK writes bytes as URL-safe base64, we write the standard alphabet: the API's JSON takes both.)
    """
    if isinstance(value, dict):
        return {
            re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): base64.b64decode(v, altchars=b"-_") if k == "data" else camel(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


class Socket:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def sdk_session() -> tuple[AsyncSession, Socket]:
    client = genai.Client(api_key=KEY)
    socket = Socket()
    return AsyncSession(client.aio._api_client, socket), socket  # type: ignore[arg-type]


def test_our_setup_is_what_the_sdk_sends_for_the_same_session() -> None:
    session = NodeSession.build(NODE_ID, NODE, Call(caller_number="+4915112345678"), REGISTRY, region="DE", timezone=FLOW.timezone)
    tools = ToolBox(session).schemas()
    config = GeminiConfig(endpoint=None, model="gemini-3.8-live", voice="Kore", language="de-DE", instructions=INSTRUCTIONS,  # type: ignore[arg-type]
                          tools=tools, greeting="Hallo", vad_silence_ms=600, vad_prefix_ms=200)
    client = genai.Client(api_key=KEY)
    api = client.aio._api_client
    sdk_config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore")), language_code="de-DE"),
        system_instruction=t.t_content(INSTRUCTIONS),
        tools=[types.Tool(function_declarations=[
            types.FunctionDeclaration(name=x["name"], description=x["description"], parameters_json_schema=x["parameters"], behavior=types.Behavior.BLOCKING)
            for x in tools
        ])],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(prefix_padding_ms=200, silence_duration_ms=600),
            activity_handling=types.ActivityHandling.START_OF_ACTIVITY_INTERRUPTS,
        ),
    )
    # As AsyncLive.connect builds the first message (google/genai/live.py).
    model = t.t_model(api, "gemini-3.8-live")
    expected = _common.convert_to_dict(_live_converters._LiveConnectParameters_to_mldev(
        api_client=api, from_object=types.LiveConnectParameters(model=model, config=sdk_config).model_dump(exclude_none=True),
    ))
    del expected["config"]
    expected["setup"]["model"] = model
    assert camel(config.setup()) == camel(_common.encode_unserializable_types(expected))


@pytest.mark.anyio
async def test_our_client_messages_are_what_the_sdk_sends() -> None:
    sdk, socket = sdk_session()
    pcm = np.arange(320, dtype="<i2").tobytes()
    await sdk.send_realtime_input(audio=types.Blob(data=pcm, mime_type="audio/pcm;rate=16000"))
    assert camel(json.loads(audio_message(pcm))) == camel(socket.sent[-1])
    await sdk.send_realtime_input(text="I keyed in on my phone: 12")
    assert camel(realtime_text("I keyed in on my phone: 12")) == camel(socket.sent[-1])
    await sdk.send_tool_response(function_responses=types.FunctionResponse(id="fc-1", name="route_call", response={"output": {"ok": True}}))
    assert camel(tool_response("fc-1", "route_call", {"ok": True})) == camel(socket.sent[-1])
    await sdk.send_context_update(system_instruction="Facts.")
    assert camel(context_update("Facts.")) == camel(socket.sent[-1])
    note = heard_note("one two three four", 500, 1000)
    await sdk.send_client_content(turns=[types.Content(role="user", parts=[types.Part(text=note["clientContent"]["turns"][0]["parts"][0]["text"])])], turn_complete=False)
    assert camel(note) == camel(socket.sent[-1])


@pytest.mark.anyio
async def test_every_message_the_fake_sends_is_read_by_the_sdk() -> None:
    model = FakeModel(["Hello.", ToolCall("record_details", {"caller_name": "Jane Doe"}), "Thanks."])
    async with FakeGeminiLiveServer(model) as server, gemini_call(server) as call:
        await until(lambda: call.out.of(LLMFullResponseEndFrame), what="the greeting")
        server.caller_said("This is Jane Doe.")
        await call.speak(400)
        await call.speak(700, loud=False)
        await until(lambda: len(call.out.of(LLMFullResponseEndFrame)) == 2, what="the reply after the tool")
        await server.go_away("5s")
    read = [types.LiveServerMessage._from_response(response=_live_converters._LiveServerMessage_from_mldev(m), kwargs={}) for m in server.sent]
    assert read[0].setup_complete is not None
    audio = [m.server_content.model_turn.parts[0].inline_data for m in read if m.server_content and m.server_content.model_turn]
    assert audio and all(a.mime_type == "audio/pcm;rate=24000" and len(a.data) > 0 for a in audio)
    calls = [m.tool_call.function_calls[0] for m in read if m.tool_call]
    assert [(c.name, c.args) for c in calls] == [("record_details", {"caller_name": "Jane Doe"})] and calls[0].id
    words = [m.server_content.input_transcription.text for m in read if m.server_content and m.server_content.input_transcription]
    assert len(words) == 2 and "".join(words) == "This is Jane Doe.", "streamed while the caller speaks, the rest at the turn's end"
    assert sum(1 for m in read if m.server_content and m.server_content.turn_complete) == 2
    assert read[-1].go_away is not None and read[-1].go_away.time_left == "5s"
    assert all(m.model_dump(exclude_none=True) for m in read), "no message the SDK reads as empty (it raises on those)"
