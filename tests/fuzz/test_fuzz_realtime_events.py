"""Fuzz: server events of the realtime model into OpenAIRealtimeProcessor's per-event dispatch (with the tool
handlers and transport out after it, as in a call).

A malformed event (wrong JSON, wrong field types, unknown type) is counted and
skipped; it never raises out of the reader (which would end the call's model
connection as if the network were lost). Enough garbage in a row is reported
once as ``garbage`` so the call fails over to a human.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.conversation.session import NodeSession
from agent.core.call import Call
from agent.flow.loader import load_flow
from agent.flow.models import AiAgentNode
from agent.core.registry import load_registry
from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.conversation.realtime_client import MAX_EVENT_BYTES, RealtimeConfig, RealtimeEndpoint
from agent.conversation.tools import ToolBox
from agent.media.frames import TwilioMarkFrame
from agent.media.processors.realtime import MAX_TRANSCRIPT_CHARS, OpenAIRealtimeProcessor
from agent.media.processors.tool_handlers import ToolHandlers
from agent.media.processors.twilio_output import TwilioMediaOutput
from agent.media.processors.twilio_sender import TwilioMediaSender
from tests.conftest import HOTLINE
from tests.fuzz.strategies import cases, deeply_nested, json_values, nasty_text

REGISTRY = load_registry()
FLOW = load_flow(HOTLINE, REGISTRY)
NODE_ID, NODE = next((k, v) for k, v in FLOW.nodes.items() if isinstance(v, AiAgentNode))
TYPES = sorted(OpenAIRealtimeProcessor._handlers) + [
    "session.created", "session.updated", "rate_limits.updated", "response.output_item.added",
    "conversation.item.created", "response.output_audio_transcript.delta", "nonsense", "",
]
_loop = asyncio.new_event_loop()


class FakeConn:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, event: dict) -> None:
        self.sent.append(event)

    async def append_audio(self, payload: str) -> None:
        pass

    async def close(self) -> None:
        pass


class Recorder(FrameProcessor):
    """The end of the chain (either way): keeps what reaches it."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        self.frames.append(frame)


class Probe:
    """The model processor, the tool handlers and transport out, as in a call; the sockets replaced by lists."""

    def __init__(self) -> None:
        ctx = NodeSession.build(NODE_ID, NODE, Call(caller_number="+4915112345678"), REGISTRY, region="DE", timezone=FLOW.timezone)
        tools = ToolBox(ctx)
        config = RealtimeConfig(endpoint=RealtimeEndpoint.openai("ws://127.0.0.1:9/v1/realtime", "m", "k"), model="m", instructions="", tools=tools.schemas(), greeting="Hi")
        self.failures: list[str] = []
        self.decisions: list[Any] = []
        self.to_twilio: list[str] = []

        async def on_decision(decision: Any) -> None:
            self.decisions.append(decision)

        async def on_failure(kind: str, reason: str) -> None:
            self.failures.append(kind)

        async def send_text(text: str) -> None:
            self.to_twilio.append(text)

        self.model = OpenAIRealtimeProcessor(config, on_decision=on_decision, on_failure=on_failure)
        self.model.connection.conn = FakeConn()
        self.up, self.down = Recorder(), Recorder()
        chain = [self.up, self.model, ToolHandlers(tools), TwilioMediaOutput(TwilioMediaSender(send_text, "MZ1")), self.down]
        for before, after in zip(chain, chain[1:]):
            before.link(after)

    @property
    def pushed(self) -> list[Frame]:
        """Every frame that left the chain, downstream then upstream."""
        return self.down.frames + self.up.frames

    @property
    def to_model(self) -> list[dict]:
        return self.model.connection.conn.sent

    def receive(self, raw: str | bytes) -> None:
        _loop.run_until_complete(self.model.receive(raw))

    def echo(self, *marks: str) -> None:
        """Twilio echoes ``marks`` (they come in through the transport, before the model)."""
        for name in marks:
            _loop.run_until_complete(self.model.queue_frame(TwilioMarkFrame(mark=name)))


def dispatch(probe: Probe, raw: str | bytes) -> None:
    probe.receive(raw)


field_values = st.one_of(json_values(6), st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()))
FIELDS = ["item_id", "delta", "response", "error", "transcript", "name", "arguments", "call_id", "status", "audio_end_ms"]

events = st.one_of(
    # a known type with fuzzed (or missing) fields
    st.builds(
        lambda t, fields: {"type": t, **fields},
        st.sampled_from(TYPES),
        st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=5),
    ),
    # realistic nested shapes with wrong leaf types
    st.builds(lambda r: {"type": "response.done", "response": r}, st.one_of(
        json_values(6), st.fixed_dictionaries({"status": st.sampled_from(["failed", "completed", None, 3]), "status_details": json_values(6)}),
    )),
    st.builds(lambda e: {"type": "error", "error": e}, st.one_of(
        json_values(6), st.fixed_dictionaries({"code": json_values(2), "type": json_values(2), "message": json_values(2)}),
    )),
    st.builds(lambda n, a, c: {"type": "response.function_call_arguments.done", "name": n, "arguments": a, "call_id": c},
              st.one_of(st.sampled_from(["record_details", "route_call", "check_status", "end_call"]), json_values(2)),
              st.one_of(json_values(8).map(json.dumps), json_values(4)), json_values(2)),
    # not an event at all: type missing or not text, not an object
    st.dictionaries(st.text(max_size=8), json_values(4), max_size=4),
    st.builds(lambda t: {"type": t}, json_values(4)),
    json_values(10),
)

raw_events = st.one_of(
    events.map(json.dumps),
    events.map(lambda e: json.dumps(e).encode()),
    st.binary(max_size=200),
    nasty_text,
    st.integers(1, 100_000).map(deeply_nested),
)


@cases(800)
@given(st.lists(raw_events, min_size=1, max_size=4))
def test_any_event_is_handled_or_skipped_never_raised(raws: list[str | bytes]) -> None:
    probe = Probe()
    for raw in raws:
        dispatch(probe, raw)
    # The connection is never blamed for what was in an event.
    assert "connection_lost" not in probe.failures
    assert set(probe.failures) <= {"garbage", "error_event", "response_failed"}
    for frame in probe.pushed:
        text = getattr(frame, "text", None)
        assert text is None or len(text) <= MAX_TRANSCRIPT_CHARS


def test_unhashable_type_and_wrong_nested_types_are_skipped() -> None:
    probe = Probe()
    for event in (
        {"type": ["response.done"]}, {"type": {"a": 1}}, {"type": "response.done", "response": "failed"},
        {"type": "error", "error": "boom"}, {"type": "response.output_audio.delta", "item_id": [1], "delta": "AAAA"},
        {"type": "response.output_audio.delta", "item_id": "i", "delta": "***"},
    ):
        dispatch(probe, json.dumps(event))
    dispatch(probe, deeply_nested(100_000))
    dispatch(probe, b"\xff\xfe")
    assert probe.failures == [] and probe.model.bad_events == 7


def test_oversized_events_are_skipped_unparsed() -> None:
    probe = Probe()
    dispatch(probe, json.dumps({"type": "response.output_audio_transcript.done", "transcript": "x" * MAX_EVENT_BYTES}))
    assert probe.pushed == [] and probe.model.bad_events == 1


def test_long_transcripts_are_cut() -> None:
    probe = Probe()
    dispatch(probe, json.dumps({"type": "response.output_audio_transcript.done", "transcript": "y" * 100_000}))
    dispatch(probe, json.dumps({"type": "conversation.item.input_audio_transcription.completed", "transcript": "z" * 100_000}))
    assert [len(f.text) for f in probe.pushed] == [MAX_TRANSCRIPT_CHARS, MAX_TRANSCRIPT_CHARS]


def test_garbage_in_a_row_fails_over_once() -> None:
    probe = Probe()
    for _ in range(50):
        dispatch(probe, "not json")
    assert probe.failures == ["garbage"]
