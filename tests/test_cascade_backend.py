"""The cascade backend (STT -> LLM -> TTS on Pipecat's services) holds a call as the realtime model does.

Each test runs the cascade's processor between its real neighbours (the
call's tool handlers, transport out writing Twilio's media messages, a
Twilio line that plays the audio and echoes marks) against a local fake of
OpenAI's HTTP API (:mod:`agent.testing.fake_openai_http`), and asserts what
the caller hears and what the services were sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
from pipecat.frames.frames import (
    Frame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from agent.conversation.realtime_client import SAY_LEAD
from agent.conversation.session import Decision, NodeSession
from agent.conversation.tools import ToolBox
from agent.core.call import Call
from agent.core.registry import load_registry
from agent.flow.models import AiAgentNode
from agent.media import mulaw
from agent.media.backends.base import ModelRequest
from agent.media.backends.cascade import CascadeBackend, CascadeOptions
from agent.media.frames import (
    CallerAudioFrame,
    KeypadEntryFrame,
    SilenceFrame,
    TwilioMarkFrame,
)
from agent.media.processors.tool_handlers import ToolHandlers
from agent.media.processors.twilio_output import TwilioMediaOutput
from agent.media.processors.twilio_sender import TwilioMediaSender
from agent.testing.fake_openai_http import Call as ToolCall
from agent.testing.fake_openai_http import ChatScript, FakeOpenAIHttp, When
from agent.testing.live import ModelFake
from agent.testing.settings import agent_settings
from agent.testing.voice import spoken
from tests.conftest import HOTLINE

REGISTRY = load_registry()

#: The cascade in the backend behaviour suite (tests/test_backend_behaviour.py): OpenAI-compatible STT, LLM and TTS, all the local fake.
CASCADE = ModelFake(
    "cascade",
    serve=lambda model: FakeOpenAIHttp(model=model),
    settings=lambda fake: {"openai_base_url": fake.base_url},
    model=lambda fake: {"backend": "cascade"},
    spoken=lambda fake: list(fake.spoken),
    heard=lambda fake: fake.heard(),
    typed=lambda fake: fake.typed(),
    break_now=lambda fake: fake.break_now(),
    refuse=lambda fake: fake.refuse(),
)
GREETING = "Hello, on-call hotline, what is going on?"
NODE = {
    "type": "ai_agent",
    "greeting": GREETING,
    "intents": {"incident": "alert", "talk_to_human": "page_oncall"},
    "gathers": ["incident", "caller_name", {"name": "email", "required": False}],
    "fallback": "page_oncall",
}
SPEED = 8.0  # the fake Twilio line plays audio this much faster than real time


class TwilioLine:
    """Twilio's side of the media stream: plays what it is sent (sped up), echoes marks once played, drops on clear."""

    def __init__(self, speed: float = SPEED) -> None:
        self.speed = speed
        self.worker: PipelineWorker | None = None
        self.audio = bytearray()  # every mu-law byte sent to the caller
        self.messages: list[dict[str, Any]] = []
        self._until = 0.0  # when what was sent has played
        self._marks: dict[str, asyncio.TimerHandle] = {}

    async def send_text(self, text: str) -> None:
        message = json.loads(text)
        self.messages.append(message)
        now = time.monotonic()
        if message["event"] == "media":
            audio = base64.b64decode(message["media"]["payload"])
            self.audio += audio
            self._until = max(self._until, now) + len(audio) / 8000 / self.speed
        elif message["event"] == "mark":
            name = message["mark"]["name"]
            self._marks[name] = asyncio.get_running_loop().call_later(max(0.0, self._until - now), self._echo, name)
        elif message["event"] == "clear":
            self._until = now
            for name, timer in list(self._marks.items()):
                timer.cancel()
                self._echo(name)

    def _echo(self, name: str) -> None:
        self._marks.pop(name, None)
        if self.worker is not None:
            asyncio.ensure_future(self.worker.queue_frame(TwilioMarkFrame(mark=name)))

    def played_ms(self) -> int:
        """Milliseconds of audio the caller has heard so far."""
        unplayed_s = max(0.0, self._until - time.monotonic()) * self.speed
        return max(0, len(self.audio) // 8 - int(unplayed_s * 1000))

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["event"] == kind]


class Spy(FrameProcessor):
    """Last in the pipeline: what came out of it."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.seen: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.seen.append(frame)
        await self.push_frame(frame, direction)

    def texts(self, kind: type) -> list[str]:
        return [f.text for f in self.seen if isinstance(f, kind)]


class CascadeCall:
    """One AI node conversation on the cascade: the processor, the tool handlers, transport out, a Twilio line."""

    def __init__(self, fake: FakeOpenAIHttp, node: dict[str, Any] | None = None, **options: Any) -> None:
        self.fake = fake
        fake.script.rules.insert(0, When(system="Greet the caller with exactly these words", say=GREETING))
        settings = agent_settings(HOTLINE, openai_base_url=fake.base_url, openai_api_key="sk-test")
        call = Call(caller_number="+4915112345678")
        self.session = NodeSession.build("agent", AiAgentNode.model_validate(node or NODE), call, REGISTRY)
        self.tools = ToolBox(self.session)
        self.decisions: list[Decision] = []
        self.failures: list[tuple[str, str]] = []
        backend = CascadeBackend(settings)
        opts = CascadeOptions.model_validate(options)
        assert backend.problems(opts, self.session.node) == []
        self.model = backend.processor(ModelRequest(
            call_id="CA1", node=self.session.node, session=self.session, tools=self.tools,
            instructions="You are the on-call hotline's agent.", settings=settings, options=opts,
            on_decision=self._decided, on_failure=self._failed,
        ))
        self.line = TwilioLine()
        self.spy = Spy()
        self.output = TwilioMediaOutput(TwilioMediaSender(self.line.send_text, "MZ1"))
        self.worker = PipelineWorker(
            Pipeline([self.model, ToolHandlers(self.tools), self.output, self.spy]),
            params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000, enable_metrics=False),
            enable_rtvi=False, enable_turn_tracking=False, idle_timeout_secs=None, check_dangling_tasks=False,
        )
        self.line.worker = self.worker
        self._runner: asyncio.Task[None] | None = None

    async def _decided(self, decision: Decision) -> None:
        self.decisions.append(decision)

    async def _failed(self, kind: str, reason: str) -> None:
        self.failures.append((kind, reason))

    async def __aenter__(self) -> CascadeCall:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.worker)
        self._runner = asyncio.create_task(runner.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.cancel()
        if self._runner is not None:
            await asyncio.wait_for(self._runner, 10)

    async def send(self, frame: Frame) -> None:
        await self.worker.queue_frame(frame)

    async def say(self, line: str, ms: int = 1200) -> None:
        """The caller says ``line`` (speech-like audio; the fake STT transcribes it as ``line``), then is silent."""
        self.fake.caller_said(line)
        await self.audio(spoken(ms) + mulaw.SILENCE * 8 * 900)

    async def audio(self, audio: bytes) -> None:
        """Caller audio in 20 ms frames, in real time."""
        for start in range(0, len(audio), mulaw.FRAME_BYTES):
            chunk = audio[start:start + mulaw.FRAME_BYTES]
            await self.send(CallerAudioFrame(payload=base64.b64encode(chunk).decode(), mulaw=chunk))
            await asyncio.sleep(0.02)

    async def until(self, condition, timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            await asyncio.sleep(0.02)

    async def greeted(self) -> None:
        """Until the greeting was said and the Twilio line played all of it (its marks came back)."""
        await self.until(lambda: self.bot_said() == [GREETING], timeout=15, what="the greeting")
        await self.until(lambda: not self.line._marks, timeout=15, what="the greeting played")

    def bot_said(self) -> list[str]:
        return self.spy.texts(TTSTextFrame)

    def heard_ms(self) -> int:
        return len(self.line.audio) // 8


def last_chat(fake: FakeOpenAIHttp) -> dict[str, Any]:
    return fake.chats[-1]


def roles(messages: list[dict[str, Any]]) -> list[str]:
    return [m["role"] for m in messages]


@pytest.mark.anyio
async def test_the_greeting_is_heard_and_a_caller_turn_is_transcribed_and_answered() -> None:
    script = ChatScript([When(user="printer", say="I am sorry to hear that. What is your name?")])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake) as call:
        await call.until(lambda: call.bot_said() == [GREETING], what="the greeting")
        speech = fake.sent("/v1/audio/speech")[0]
        assert speech.body["input"] == GREETING and speech.body["response_format"] == "pcm" and speech.body["voice"] == "marin"
        assert speech.headers["Authorization"] == "Bearer sk-test"
        await call.until(lambda: call.heard_ms() >= 300 * len(GREETING.split()) - 20, what="the greeting's audio")
        assert mulaw.rms(bytes(call.line.audio[800:1600])) > 1000, "the greeting is audible, as 8 kHz mu-law"

        await call.say("My printer is on fire")
        await call.until(lambda: len(call.bot_said()) >= 3, what="the answer")
        assert call.spy.texts(TranscriptionFrame) == ["My printer is on fire"]
        transcription = fake.sent("/v1/audio/transcriptions")[0]
        assert transcription.body["model"] == "gpt-4o-transcribe" and transcription.body["language"] == "en"
        assert transcription.body["file"][:4] == b"RIFF", "the caller's turn goes as a WAV file"
        chat = last_chat(fake)
        assert chat["stream"] is True and chat["model"] == "gpt-4.1-mini"
        assert chat["messages"][0] == {"role": "system", "content": "You are the on-call hotline's agent."}
        assert chat["messages"][1:] == [
            {"role": "assistant", "content": GREETING},
            {"role": "user", "content": "My printer is on fire"},
        ]
        assert {t["function"]["name"] for t in chat["tools"]} == {"record_details", "route_call", "check_status", "end_call"}
        assert call.bot_said()[1:] == ["I am sorry to hear that.", "What is your name?"], "the answer, sentence by sentence"
        assert call.failures == []


@pytest.mark.anyio
async def test_a_gather_is_filled_through_a_tool_call_and_its_answer_reaches_the_llm() -> None:
    script = ChatScript([
        When(user="printer", tool=ToolCall("record_details", {"incident": "The office printer is on fire"})),
        When(tool_result="record_details", say="Noted. What is your name?"),
    ])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake) as call:
        await call.until(lambda: call.bot_said() == [GREETING])
        await call.say("My printer is on fire")
        await call.until(lambda: "What is your name?" in call.bot_said(), what="the answer after the tool")
        assert call.session.call.fields["incident"] == "The office printer is on fire"
        first, second = fake.chats[-2:]
        record = next(t["function"] for t in first["tools"] if t["function"]["name"] == "record_details")
        assert "incident" in record["parameters"]["properties"], "the node's gathers are the tool's parameters"
        assistant, tool = second["messages"][-2:]
        assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["function"]["name"] == "record_details"
        assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"incident": "The office printer is on fire"}
        assert tool["role"] == "tool" and tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
        assert "incident" in json.loads(tool["content"])["saved"], "the tool's answer, as the tool handlers gave it"
        assert call.failures == [] and call.decisions == []


@pytest.mark.anyio
async def test_a_decision_says_the_hand_over_line_then_redirects_once_it_was_heard() -> None:
    script = ChatScript([
        When(user="human", tool=ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person"})),
        When(system="Say this to the caller", say="Alright, connecting you now."),
    ], otherwise="This should not be asked.")
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake) as call:
        await call.until(lambda: call.bot_said() == [GREETING])
        await call.say("I want to talk to a human")
        await call.until(lambda: call.decisions, what="the decision")
        line = call.session.decision.say
        asked = fake.chats[-1]["messages"][0]
        assert asked["role"] == "system" and asked["content"].endswith(f"\n\n{SAY_LEAD}{line}"), "the model says the node's line, in the call's language"
        assert call.bot_said()[-1] == "Alright, connecting you now."
        assert call.heard_ms() >= 300 * (len(GREETING.split()) + 4) - 40, "all of the line was played first"
        [decision] = call.decisions
        assert (decision.exit, decision.target, decision.say) == ("intent", "page_oncall", ""), "the line was heard: not said again"
        assert len(fake.chats) == 3, "the greeting, the tool call, the line: after it the LLM is not asked again"
        await asyncio.sleep(0.3)
        assert len(call.decisions) == 1 and call.failures == []


@pytest.mark.anyio
async def test_a_hand_over_line_the_llm_does_not_say_is_said_as_written() -> None:
    script = ChatScript([
        When(user="human", tool=ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person"})),
        When(system="Say this to the caller", say=""),
    ])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake) as call:
        await call.until(lambda: call.bot_said() == [GREETING])
        await call.say("I want to talk to a human")
        await call.until(lambda: call.decisions, what="the decision")
        line = call.session.decision.say
        assert " ".join(r.body["input"] for r in fake.sent("/v1/audio/speech")[1:]) == line, "said as written"
        assert call.decisions[0].say == ""


@pytest.mark.anyio
async def test_barge_in_stops_the_bot_and_keeps_only_what_the_caller_heard_in_the_context() -> None:
    long = ("Let me explain what we know so far about the outage in the data centre. "
            "Engineers are working on it and we expect an update within the next hour or so.")
    script = ChatScript([When(user="printer", say=long), When(user="stop", say="Sorry, go ahead.")])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake) as call:
        call.line.speed = 1.0  # played in real time: the caller can talk over it
        await call.until(lambda: call.bot_said() == [GREETING])
        await call.until(lambda: not call.line._marks and call.heard_ms() > 0, timeout=15, what="the greeting played")
        await call.say("My printer is on fire")
        await call.until(lambda: call.line.played_ms() > 300 * len(GREETING.split()) + 1500, timeout=15, what="the reply playing")
        await call.say("Stop, stop, wait a moment")
        await call.until(lambda: len(fake.chats) >= 2, timeout=15, what="the caller's turn after the barge-in")
        assert call.line.events("clear"), "Twilio's buffer was cleared"
        assistant = fake.chats[-1]["messages"][-2]
        assert assistant["role"] == "assistant", fake.chats[-1]["messages"]
        kept = assistant["content"].split()
        assert 3 <= len(kept) < len(long.split()), assistant["content"]
        assert long.split()[: len(kept)] == kept, "what was heard: the reply's first words"
        assert fake.chats[-1]["messages"][-1] == {"role": "user", "content": "Stop, stop, wait a moment"}
        reply_ms = call.heard_ms() - 300 * len(GREETING.split())
        assert len(kept) <= reply_ms / 300 + 2, "no more words than the audio sent could hold"


@pytest.mark.anyio
async def test_keyed_digits_reach_the_llm_as_the_callers_turn() -> None:
    script = ChatScript([When(user="1234", say="Thanks, I have your customer number.")])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake) as call:
        await call.until(lambda: call.bot_said() == [GREETING])
        await call.send(KeypadEntryFrame(digits="1234"))
        await call.until(lambda: "Thanks, I have your customer number." in call.bot_said(), what="the answer to the keys")
        assert fake.chats[-1]["messages"][-1] == {"role": "user", "content": "I keyed in on my phone: 1234"}
        assert "(keys 1234)" in call.spy.texts(TranscriptionFrame)


@pytest.mark.anyio
async def test_silence_re_prompts_and_new_instructions_reach_the_next_inference() -> None:
    from agent.media.frames import ModelInstructionsFrame
    from agent.media.processors.realtime import REPROMPT

    script = ChatScript([When(system="silent", say="Are you still there?")])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake) as call:
        await call.until(lambda: call.bot_said() == [GREETING])
        await call.send(ModelInstructionsFrame(instructions="Facts: the checkout is down."))
        await call.send(SilenceFrame(seconds=8))
        await call.until(lambda: "Are you still there?" in call.bot_said(), what="the re-prompt")
        messages = fake.chats[-1]["messages"]
        assert messages[0] == {"role": "system", "content": f"Facts: the checkout is down.\n\n{REPROMPT}"}, "the facts, and the re-prompt"
        assert [m["role"] for m in messages[1:]] == ["assistant"], "the re-prompt is no message of the conversation"


@pytest.mark.anyio
async def test_an_llm_that_fails_calls_on_failure_once() -> None:
    async with FakeOpenAIHttp(ChatScript()) as fake, CascadeCall(fake) as call:
        await call.until(lambda: call.bot_said() == [GREETING])
        fake.fail("/v1/chat/completions", 500, times=5)  # more than the SDK's retries
        await call.say("My printer is on fire")
        await call.until(lambda: call.failures, timeout=15, what="the fail-over")
        await asyncio.sleep(0.5)
        assert [kind for kind, _ in call.failures] == ["llm_error"], "reported once"
        assert len(fake.chats) == 1 + 3, "the greeting, then the caller's turn: tried by the SDK three times"


@pytest.mark.anyio
async def test_an_llm_that_never_answers_fails_over_after_the_answer_timeout() -> None:
    async with FakeOpenAIHttp(ChatScript()) as fake, CascadeCall(fake, answer_timeout_s=1.5) as call:
        await call.until(lambda: call.bot_said() == [GREETING])
        fake.stall.add("/v1/chat/completions")
        await call.say("My printer is on fire")
        stopped = next(i for i, f in enumerate(call.spy.seen) if isinstance(f, UserStoppedSpeakingFrame))
        assert stopped >= 0
        await call.until(lambda: call.failures, timeout=6, what="the fail-over")
        assert [kind for kind, _ in call.failures] == ["no_answer"]


@pytest.mark.anyio
async def test_a_speech_to_text_server_that_fails_calls_on_failure() -> None:
    async with FakeOpenAIHttp(ChatScript()) as fake, CascadeCall(fake) as call:
        fake.fail("/v1/audio/transcriptions", 503, times=5)
        await call.until(lambda: call.bot_said() == [GREETING])
        await call.say("My printer is on fire")
        await call.until(lambda: call.failures, timeout=15, what="the fail-over")
        assert [kind for kind, _ in call.failures] == ["stt_error"]


# -- configuration: what flow validate says, which services a node gets -------------------------

def backend(**settings: Any) -> CascadeBackend:
    return CascadeBackend(agent_settings(HOTLINE, **settings))


def node() -> AiAgentNode:
    return AiAgentNode.model_validate(NODE)


def test_options_refuse_unknown_keys() -> None:
    with pytest.raises(ValueError, match="api_key"):
        CascadeOptions.model_validate({"llm": {"base_url": "http://vllm:8000/v1", "api_key": "secret"}})


def test_a_vendor_whose_extra_is_missing_is_named_with_its_pip_extra() -> None:
    try:
        import anthropic  # noqa: F401
        pytest.skip("anthropic is installed here")
    except ImportError:
        pass
    problems = backend().problems(CascadeOptions.model_validate({"llm": {"type": "anthropic"}}), node())
    assert any("pip install 'pipecat-ai[anthropic]'" in p for p in problems), problems


def test_a_vendor_without_its_key_names_the_setting_and_a_self_hosted_server_needs_none() -> None:
    problems = backend().problems(CascadeOptions.model_validate({"tts": {"type": "cartesia", "voice": "a-voice-id"}}), node())
    assert problems == ["no key for the tts service (cartesia); set VOICE_AGENT_CASCADE_TTS_API_KEY (environment or .env)"]
    assert backend(cascade_tts_api_key="ck").problems(CascadeOptions.model_validate({"tts": {"type": "cartesia", "voice": "v"}}), node()) == []
    local = {"stt": {"base_url": "http://whisper:8000/v1"}, "llm": {"base_url": "http://vllm:8000/v1"}, "tts": {"base_url": "http://kokoro:8880/v1"}}
    assert backend().problems(CascadeOptions.model_validate(local), node()) == []


def test_a_voice_pipecats_openai_tts_would_refuse_is_reported() -> None:
    [problem] = backend().problems(CascadeOptions.model_validate({"tts": {"voice": "af_heart"}}), node())
    assert "'af_heart' is not one of OpenAI's" in problem and "alloy" in problem


def test_each_stage_talks_to_its_own_server_with_its_model_voice_and_key() -> None:
    settings = agent_settings(HOTLINE, openai_api_key="sk-openai", cascade_llm_api_key="vllm-key", cascade_tts_api_key="ck")
    chosen = CascadeOptions.model_validate({
        "stt": {"base_url": "http://whisper.internal:8000/v1", "model": "Systran/faster-whisper-small", "language": "de"},
        "llm": {"base_url": "http://vllm.internal:8000/v1", "model": "meta-llama/Llama-3.1-8B-Instruct"},
        "tts": {"type": "cartesia", "voice": "a-voice-id", "model": "sonic-2"},
    })
    session = NodeSession.build("agent", node(), Call(caller_number="+4915112345678"), REGISTRY)
    processor = CascadeBackend(settings).processor(ModelRequest(
        call_id="CA1", node=session.node, session=session, tools=ToolBox(session), instructions="Be brief.", settings=settings,
        options=chosen, on_decision=None, on_failure=None,  # type: ignore[arg-type]
    ))
    stt, llm, tts = processor._stt, processor._llm, processor._tts
    assert str(stt._client.base_url) == "http://whisper.internal:8000/v1/" and stt._settings.model == "Systran/faster-whisper-small"
    assert stt._settings.language == "de" and stt._client.api_key == "sk-openai", "type openai falls back to OpenAI's key"
    assert str(llm._client.base_url) == "http://vllm.internal:8000/v1/" and llm._client.api_key == "vllm-key"
    assert llm._settings.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert type(tts).__name__ == "CartesiaTTSService" and tts._settings.voice == "a-voice-id" and tts._settings.model == "sonic-2"


@pytest.mark.anyio
async def test_more_words_before_the_answer_is_heard_are_answered_together() -> None:
    script = ChatScript([
        When(user="scanner", say="I will note the printer and the scanner."),
        When(user="printer", say="I will note the printer."),
    ])
    async with FakeOpenAIHttp(script, first_token_ms=2500) as fake, CascadeCall(fake, answer_timeout_s=10) as call:
        await call.until(lambda: call.bot_said() == [GREETING], timeout=15)
        await call.say("My printer is broken")
        await fake.wait_for("/v1/chat/completions", count=2)
        await call.say("and the scanner too")  # while the answer to the first words is still being thought of
        await call.until(lambda: "I will note the printer and the scanner." in call.bot_said(), timeout=15, what="one answer to both")
        assert "I will note the printer." not in call.bot_said(), "the answer to half of what was said is dropped"
        assert [m for m in fake.chats[-1]["messages"] if m["role"] == "user"] == [
            {"role": "user", "content": "My printer is broken"}, {"role": "user", "content": "and the scanner too"},
        ]
        assert call.failures == []


@pytest.mark.anyio
async def test_the_barge_in_detectors_frame_stops_the_bot_too() -> None:
    from pipecat.frames.frames import VADUserStartedSpeakingFrame

    long = "Let me explain what we know so far about the outage in the data centre and what happens next."
    async with FakeOpenAIHttp(ChatScript([When(user="printer", say=long)])) as fake, CascadeCall(fake) as call:
        call.line.speed = 1.0
        await call.greeted()
        await call.say("My printer is on fire")
        await call.until(lambda: call.line.played_ms() > 300 * len(GREETING.split()) + 1200, timeout=15, what="the reply playing")
        await call.send(VADUserStartedSpeakingFrame())  # what the local barge-in VAD pushes while the bot is heard
        await call.until(lambda: call.line.events("clear"), what="Twilio cleared")
        await call.until(lambda: call.model.history[-1]["content"] != long, what="the reply cut in the context")
        kept = call.model.history[-1]["content"].split()
        assert 2 <= len(kept) < len(long.split()) and long.split()[: len(kept)] == kept, kept


def test_what_was_heard_is_whole_sentences_by_their_audio_and_a_share_of_the_one_playing() -> None:
    from agent.media.backends.cascade.processor import Reply

    reply = Reply(requested=["One two three four.", "Five six seven eight."], audio_ms=3000)
    reply.spoken, reply.spoken_ms = [("One two three four.", 1000)], 1000  # the second sentence's audio: 2000 ms so far
    assert reply.heard_text(0) == ""
    assert reply.heard_text(500) == "One two"
    assert reply.heard_text(1000) == "One two three four."
    assert reply.heard_text(2000) == "One two three four. Five six"
    assert reply.heard_text(5000) == "One two three four. Five six seven eight."


def test_every_openai_compatible_service_shares_the_processes_one_tls_context():
    """A TLS context per service and call cost ~80 ms of the event loop at every call's start (benchmarks/README.md)."""
    from agent.core.http_client import ssl_context
    from agent.media.backends.cascade.services import ServiceOptions, build

    for stage, kind in (("stt", "openai"), ("llm", "openai"), ("llm", "ollama"), ("tts", "openai")):
        service = build(stage, ServiceOptions(type=kind, base_url="https://models.example.test/v1"), key="k",
                        default_url="https://api.openai.com/v1", default_model=None, voice="alloy")
        pool = service._client._client._transport._pool
        assert pool._ssl_context is ssl_context(), f"{stage} {kind} builds its own TLS context"
