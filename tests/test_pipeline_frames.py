"""A processor of your own in a live call's pipeline sees the call's events as frames.

The call runs end to end (real server, fake Twilio, fake model); the test
inserts two ordinary Pipecat processors through ``media_handler(processors=...)``:
one right after the model (before the tool handlers), one at the end.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import respx
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InputDTMFFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.media.frames import BotAudioFrame, CallDecidedFrame, CallerAudioFrame, KeypadEntryFrame, TwilioMarkFrame
from agent.media.processors.realtime import OpenAIRealtimeProcessor
from agent.server.app import create_app
from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer, Say, ToolCall
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import ACCOUNT, TOKEN, TWILIO_API, HARNESSES, Harness, live_settings, speak, twilio_rest
from agent.testing.server import running_server
from agent.testing.twiml_interpreter import TwimlInterpreter
from pipelines.twilio_realtime import media_handler
from tests.conftest import HOTLINE


class Spy(FrameProcessor):
    """What a user writes: an ordinary (queued) processor that looks at every frame and passes it on."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Frame, FrameDirection]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.seen.append((frame, direction))
        await self.push_frame(frame, direction)

    def kinds(self, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> set[type]:
        return {type(f) for f, d in self.seen if d == direction}


async def call_with_spies(model: FakeModel, caller, spies: dict[str, Spy]):
    """One call on a server whose pipeline has ``spies['after_model']`` after the model and ``spies['end']`` last."""

    def arrange(processors: list[FrameProcessor]) -> list[FrameProcessor]:
        at = next(i for i, p in enumerate(processors) if isinstance(p, OpenAIRealtimeProcessor)) + 1
        return [*processors[:at], spies["after_model"], *processors[at:], spies["end"]]

    model.ms_per_word = 80
    async with FakeRealtimeServer(model) as fake, contextlib.AsyncExitStack() as stack:
        rest = stack.enter_context(respx.mock(assert_all_called=False))
        rest.route(host="127.0.0.1").pass_through()
        rest.post(url__startswith=f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Calls/").mock(side_effect=twilio_rest)
        app = lambda base: create_app(live_settings(base, fake.url, HOTLINE), media=media_handler(processors=arrange))  # noqa: E731
        async with running_server(app) as (base, _):
            harness = Harness(fake, base, caller)
            async with httpx.AsyncClient(base_url=base) as client:
                twilio = TwimlInterpreter(client, base, auth_token=TOKEN, on_stream=harness.on_stream)
                harness.call_sid = twilio.call_sid
                HARNESSES[twilio.call_sid] = harness
                try:
                    record = await asyncio.wait_for(twilio.call(["yes"]), 60)
                finally:
                    HARNESSES.pop(twilio.call_sid, None)
    return record, harness, fake


def test_a_processor_of_your_own_sees_the_calls_events_as_frames():
    model = FakeModel([
        Say("Hello, I'm ACME's on-call assistant. What's going on?"),
        ToolCall("record_details", {"caller_name": "Jane Doe", "incident": "The login page times out", "affected_services": ["login"]}),
        Say("Thanks Jane. Please key in a number we can call you back on."),
        lambda turn: [ToolCall("record_details", {"contact_number": turn.user_text.rsplit(" ", 1)[-1]}),
                      ToolCall("route_call", {"intent": "talk_to_human", "summary": "login down", "details_declined": True})],
        Say("I'm connecting you now."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=500, timeout=10)  # the greeting
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "Jane Doe here, the login page times out")
        await call.wait_for_audio(ms=300, timeout=10, new=True)
        await call.wait_until_quiet(ms=300, timeout=10)
        for key in "01712345678#":
            await call.press(key)

    spies = {"after_model": Spy(), "end": Spy()}
    record, harness, fake = asyncio.run(call_with_spies(model, caller, spies))
    assert record.dialled == ["+4930901820"], "the call went on as usual with the processors in it"

    end = spies["end"].kinds()
    # speech start/stop and transcripts, both sides
    assert {UserStartedSpeakingFrame, UserStoppedSpeakingFrame, TranscriptionFrame, TTSTextFrame} <= end
    caller_lines = [f.text for f, _ in spies["end"].seen if isinstance(f, TranscriptionFrame)]
    assert "(keys 01712345678)" in caller_lines
    # the model's responses, tool calls and their answers, key presses, playback
    assert {LLMFullResponseStartFrame, LLMFullResponseEndFrame, FunctionCallInProgressFrame, FunctionCallResultFrame} <= end
    assert {InputDTMFFrame, KeypadEntryFrame, BotStartedSpeakingFrame, BotStoppedSpeakingFrame} <= end
    called = [f.function_name for f, _ in spies["end"].seen if isinstance(f, FunctionCallInProgressFrame)]
    assert called == ["record_details", "record_details", "route_call"]
    answered = [f.result for f, _ in spies["end"].seen if isinstance(f, FunctionCallResultFrame)]
    assert "error" not in answered[-1]
    # audio stops at the ends of its lanes: caller audio at the model, bot audio (and Twilio's marks) at transport out
    assert CallerAudioFrame not in end and BotAudioFrame not in end and TwilioMarkFrame not in end

    after_model = spies["after_model"]
    assert BotAudioFrame in after_model.kinds(), "the model's audio passes on its way to transport out"
    decided = [f.decision for f, d in after_model.seen if isinstance(f, CallDecidedFrame)]
    assert len(decided) == 1 and decided[0].target, "the decision of route_call went to the model as a frame"
    assert {FunctionCallResultFrame, BotStartedSpeakingFrame, BotStoppedSpeakingFrame} <= after_model.kinds(FrameDirection.UPSTREAM)
    marks_heard = [f.mark for f, _ in after_model.seen if isinstance(f, TwilioMarkFrame)]  # Twilio's playback marks
    assert marks_heard and set(marks_heard) <= set(harness.media.marks_echoed)
