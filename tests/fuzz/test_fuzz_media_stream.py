"""Fuzz: Twilio Media Stream messages into SafeTwilioSerializer (and a few hundred through a live socket).

Whatever arrives on the media WebSocket, ``deserialize`` answers a frame or
None and never raises: Pipecat's input transport ends its receive loop on the
first exception, which would leave the caller talking to a deaf bot.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json

from hypothesis import given
from hypothesis import strategies as st
from pipecat.frames.frames import InputDTMFFrame, StartFrame

from agent.media.frames import CallerAudioFrame, TwilioMarkFrame, TwilioStopFrame
from agent.media.processors.twilio_serializer import MAX_MESSAGE_BYTES, SafeTwilioSerializer
from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import Harness, run_live_call, speak
from tests.conftest import HOTLINE
from tests.fuzz.strategies import cases, deeply_nested, json_values, nasty_text

EVENTS = ["connected", "start", "media", "dtmf", "mark", "stop", "clear", "unknown", "", None, 1, ["media"], {"e": 1}]
ALLOWED = (type(None), CallerAudioFrame, InputDTMFFrame, TwilioMarkFrame, TwilioStopFrame)

_loop = asyncio.new_event_loop()


def run(coro):
    return _loop.run_until_complete(coro)


def serializer(started: bool) -> SafeTwilioSerializer:
    s = SafeTwilioSerializer("MZ" + "0" * 32, "CA" + "0" * 32)
    if started:
        run(s.setup(StartFrame(audio_in_sample_rate=8000, audio_out_sample_rate=8000)))
    return s


STARTED = serializer(True)
UNSTARTED = serializer(False)  # a `media` before `start`: setup never ran

payloads = st.one_of(
    st.binary(max_size=400).map(lambda b: base64.b64encode(b).decode()),  # real base64 audio
    nasty_text,                                                         # not base64
    json_values(5),                                                     # not even text
)

messages = st.one_of(
    # well-formed envelopes with fuzzed contents
    st.fixed_dictionaries({"event": st.just("media"), "media": st.one_of(
        st.fixed_dictionaries({"payload": payloads}, optional={"track": nasty_text, "chunk": json_values(2), "timestamp": json_values(2)}),
        json_values(5),
    )}),
    st.fixed_dictionaries({"event": st.just("dtmf"), "dtmf": st.one_of(st.fixed_dictionaries({"digit": json_values(3)}), json_values(5))}),
    st.fixed_dictionaries({"event": st.just("mark"), "mark": st.one_of(st.fixed_dictionaries({"name": json_values(3)}), json_values(5))}),
    st.fixed_dictionaries({"event": st.sampled_from(EVENTS)}, optional={
        "streamSid": json_values(2), "sequenceNumber": json_values(2), "start": json_values(8), "stop": json_values(4),
        "media": json_values(4), "mark": json_values(4), "dtmf": json_values(4),
    }),
    json_values(30),  # any JSON at all: lists, numbers, strings, objects without `event`
)


def encoded(value) -> st.SearchStrategy[str | bytes]:
    text = json.dumps(value)
    return st.sampled_from([text, text.encode(), text.encode("utf-16")])


raw_frames = st.one_of(
    messages.flatmap(encoded),
    st.binary(max_size=300),                       # binary frames, invalid UTF-8
    nasty_text,                                    # not JSON
    st.integers(1, 200_000).map(deeply_nested),    # deep nesting: RecursionError in json.loads
    st.integers(0, 3 * MAX_MESSAGE_BYTES).map(     # huge media payloads around the size limit
        lambda n: json.dumps({"event": "media", "media": {"payload": "/" * n}})),
)


def check(s: SafeTwilioSerializer, data: str | bytes) -> None:
    frame = run(s.deserialize(data))
    assert isinstance(frame, ALLOWED), type(frame)
    if isinstance(frame, CallerAudioFrame):
        assert len(frame.mulaw) <= MAX_MESSAGE_BYTES  # bounded by the message limit


@cases(1200)
@given(raw_frames)
def test_any_message_is_a_frame_or_dropped_never_an_exception(data: str | bytes) -> None:
    check(STARTED, data)


@cases(400)
@given(st.lists(raw_frames, min_size=1, max_size=6))
def test_out_of_order_messages_before_start(sequence: list[str | bytes]) -> None:
    s = serializer(False)
    for data in sequence:
        check(s, data)
        check(UNSTARTED, data)


def test_oversized_messages_are_refused_before_parsing() -> None:
    s = serializer(True)
    huge = json.dumps({"event": "media", "media": {"payload": base64.b64encode(b"\xff" * MAX_MESSAGE_BYTES).decode()}})
    assert run(s.deserialize(huge)) is None
    assert s.malformed == 1
    ok = json.dumps({"event": "media", "media": {"payload": base64.b64encode(b"\xff" * 160).decode()}})
    assert isinstance(run(s.deserialize(ok)), CallerAudioFrame)


# -- a real socket -----------------------------------------------------------------------------


def garbage(n: int) -> list[str | bytes]:
    """``n`` deterministic garbage frames plus a few hand-picked ones.

    Drawn once from the same strategy; hypothesis releases differ in what (and how many distinct
    examples) they draw, so more are asked for than needed and stops are left out: a stop in the
    middle would end the stream on the test's side, not the server's.
    """
    out: list[str | bytes] = []

    @cases(2 * n)
    @given(raw_frames.filter(lambda d: len(d) <= 8 * MAX_MESSAGE_BYTES // 4))
    def collect(data: str | bytes) -> None:
        if len(out) < n and not _is_stop(data):
            out.append(data)

    collect()
    while out and len(out) < n:  # a hypothesis release that stops early still sends n frames
        out += out[: n - len(out)]
    extra = [
        json.dumps({"event": "start", "start": None}), json.dumps({"event": "media"}), "\x00" * 70_000,
        json.dumps({"event": "mark", "mark": {"name": ["m1"]}}), deeply_nested(100_000), b"\xff\xfe\x00",
    ]
    return out + extra


def _is_stop(data: str | bytes) -> bool:
    try:
        return isinstance(m := json.loads(data), dict) and m.get("event") == "stop"
    except (ValueError, RecursionError):
        return False


def test_a_live_call_survives_hundreds_of_garbage_messages() -> None:
    frames = garbage(300)
    assert len(frames) >= 300
    model = FakeModel([
        Say("Hello, I'm ACME's on-call assistant. What's going on?"),
        ToolCall("route_call", {"intent": "talk_to_human", "summary": "caller wants a person"}),
        Say("I'm connecting you now."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=10)
        for data in frames:
            await call.send_raw(data)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "put me through to a person please")

    record, harness, _ = asyncio.run(functools.partial(run_live_call, flow=HOTLINE)(model, caller))
    assert len(harness.redirects) == 1, "the call was handed on normally"
    assert record.dialled == ["+4930901820"]
    assert harness.media is not None and harness.media.first_audio_at is not None
    assert not harness.media.protocol_errors
