"""The fake OpenAI Realtime server speaks the GA protocol the way the real API does.

Every test talks to it over a real WebSocket (raw ``websockets``, or the
official ``openai`` SDK) and, at the end, checks every server event it sent
against the ``openai`` SDK's GA event models and Pipecat's strict parser.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time

import pydantic
import pytest
import websockets
from openai.types.realtime import RealtimeServerEvent

from agent.testing.fake_realtime import (
    PCM,
    PCMU,
    FakeModel,
    FakeRealtimeServer,
    Say,
    ToolCall,
    silence,
)

AUTH = {"Authorization": "Bearer sk-test"}
_SDK_EVENT = pydantic.TypeAdapter(RealtimeServerEvent)


# -- helpers -------------------------------------------------------------------


def _mulaw(sample: int) -> int:
    """One 16-bit sample to G.711 mu-law (reference algorithm, independent of the fake)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def mulaw_tone(ms: int, freq: float = 440.0) -> bytes:
    wave = (0.3 * 32767 * math.sin(2 * math.pi * freq * i / 8000) for i in range(8 * ms))
    return bytes(_mulaw(int(x)) for x in wave)


def pcm_tone(ms: int) -> bytes:
    wave = (0.3 * 32767 * math.sin(2 * math.pi * 440 * i / 24000) for i in range(24 * ms))
    return b"".join(int(x).to_bytes(2, "little", signed=True) for x in wave)


class Client:
    """A raw WebSocket client that keeps every server event it read."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.events: list[dict] = []

    async def send(self, type: str, **fields) -> None:
        await self.ws.send(json.dumps({"type": type, **fields}))

    async def append(self, audio: bytes, chunk: int) -> None:
        for start in range(0, len(audio), chunk):
            b64 = base64.b64encode(audio[start : start + chunk]).decode()
            await self.send("input_audio_buffer.append", audio=b64)

    async def recv(self, timeout: float = 3.0) -> dict:
        event = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.events.append(event)
        return event

    async def until(self, type: str, timeout: float = 3.0) -> list[dict]:
        """Events read up to and including the next one of ``type``."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            event = await self.recv(max(0.01, deadline - time.monotonic()))
            got.append(event)
            if event["type"] == type:
                return got

    async def quiet(self, seconds: float) -> list[dict]:
        """Everything that arrives within ``seconds``."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(await self.recv(left))
            except TimeoutError:
                break
        return got


async def connect(server: FakeRealtimeServer, model: str = "gpt-realtime") -> Client:
    ws = await websockets.connect(f"{server.url}?model={model}", additional_headers=AUTH)
    client = Client(ws)
    first = await client.recv()
    assert first["type"] == "session.created"
    return client


def types_of(events: list[dict]) -> list[str]:
    """Event types with runs of the same delta type collapsed to one."""
    out: list[str] = []
    for event in events:
        if not (out and out[-1] == event["type"] and event["type"].endswith(".delta")):
            out.append(event["type"])
    return out


def assert_wire_ok(server: FakeRealtimeServer) -> None:
    """Every event sent parses as the SDK's GA model and with Pipecat's strict parser."""
    from pipecat.services.openai.realtime.events import parse_server_event

    for event in server.sent:
        assert event["event_id"].startswith("event_")
        _SDK_EVENT.validate_python(event)
        parse_server_event(json.dumps(event))
    assert server.problems == []


def update(**session) -> dict:
    return {"type": "realtime", **session}


# -- session -------------------------------------------------------------------


def test_session_created_and_update_merges_only_present_fields():
    async def main():
        async with FakeRealtimeServer() as server:
            url = f"{server.url}?model=gpt-realtime-2.1"
            ws = await websockets.connect(url, additional_headers=AUTH)
            client = Client(ws)
            created = await client.recv()
            assert created["type"] == "session.created" and created["event_id"]
            session = created["session"]
            assert session["type"] == "realtime" and not {"id", "object", "expires_at"} & set(session), "GA session fields only"
            assert session["model"] == "gpt-realtime-2.1"
            assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
            assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
            assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
            assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 500
            assert session["audio"]["input"]["transcription"] is None

            await client.send(
                "session.update",
                session=update(
                    instructions="You answer an on-call hotline.",
                    audio={
                        "input": {
                            "format": {"type": "audio/pcmu"},
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 600},
                        }
                    },
                ),
            )
            first = (await client.until("session.updated"))[-1]["session"]
            assert first["instructions"] == "You answer an on-call hotline."
            assert first["audio"]["input"]["format"] == {"type": "audio/pcmu"}
            assert first["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
            assert first["audio"]["output"]["voice"] == "marin"
            vad = first["audio"]["input"]["turn_detection"]
            assert vad["silence_duration_ms"] == 600 and vad["threshold"] == 0.5
            assert vad["create_response"] is True and vad["interrupt_response"] is True

            tool = {
                "type": "function",
                "name": "end_call",
                "description": "End.",
                "parameters": {"type": "object", "properties": {}},
            }
            await client.send("session.update", session=update(tools=[tool]))
            second = (await client.until("session.updated"))[-1]["session"]
            assert second["tools"] == [tool]
            assert second["instructions"] == "You answer an on-call hotline."  # kept
            assert second["audio"]["input"]["format"] == {"type": "audio/pcmu"}  # kept

            await client.send(
                "session.update", session=update(audio={"input": {"turn_detection": None}})
            )
            third = (await client.until("session.updated"))[-1]["session"]
            assert third["audio"]["input"]["turn_detection"] is None
            assert third["tools"] == [tool]

            sess = server.session
            assert sess.config == third
            assert sess.model == "gpt-realtime-2.1"
            assert sess.connected_headers["Authorization"] == "Bearer sk-test"
            assert [e["type"] for e in server.received] == ["session.update"] * 3
            await ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


# -- responses -----------------------------------------------------------------

_SAY_ORDER = [
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
]
_SAY_END = [
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]


@pytest.mark.parametrize("fmt, per_ms", [(PCMU, 8), (PCM, 48)])
def test_say_streams_in_ga_order_with_audio_of_the_right_length(fmt, per_ms):
    text = "Hello, what's wrong?"  # 3 words -> 750 ms

    async def main():
        async with FakeRealtimeServer(FakeModel([Say(text)]), audio_speedup=50) as server:
            client = await connect(server)
            fmt_obj = {"type": fmt} if fmt == PCMU else {"type": fmt, "rate": 24000}
            audio_cfg = {"output": {"format": fmt_obj}}
            await client.send("session.update", session=update(audio=audio_cfg))
            await client.until("session.updated")
            await client.send("response.create", response={"output_modalities": ["audio"]})
            events = await client.until("response.done")

            order = types_of(events)
            assert order[:5] == _SAY_ORDER
            assert order[-6:] == _SAY_END
            middle = set(order[5:-6])
            assert middle == {
                "response.output_audio.delta",
                "response.output_audio_transcript.delta",
            }

            item = events[2]["item"]
            assert item["type"] == "message" and item["role"] == "assistant"
            assert events[3]["item"] == item and item["status"] == "in_progress"
            assert item["content"] == []
            assert events[4]["part"] == {"type": "audio", "transcript": ""}

            resp_id = events[0]["response"]["id"]
            deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
            for d in deltas:
                assert (d["response_id"], d["item_id"], d["output_index"], d["content_index"]) == (
                    resp_id,
                    item["id"],
                    0,
                    0,
                )
                assert len(base64.b64decode(d["delta"])) <= 100 * per_ms
            audio = b"".join(base64.b64decode(d["delta"]) for d in deltas)
            assert len(audio) == 750 * per_ms
            assert audio.strip(b"\xff" if fmt == PCMU else b"\x00")  # a tone, not silence

            transcript = "".join(
                e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"
            )
            assert transcript == text
            done = {e["type"]: e for e in events}
            assert done["response.output_audio_transcript.done"]["transcript"] == text
            assert done["response.output_item.done"]["item"]["content"] == [
                {"type": "output_audio", "transcript": text}
            ]
            final = done["response.done"]["response"]
            assert final["status"] == "completed" and final["id"] == resp_id
            assert final["usage"]["output_token_details"]["audio_tokens"] > 0
            assert final["audio"]["output"]["format"]["type"] == fmt
            assert server.session.item(item["id"])["status"] == "completed"
            await client.ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


def test_text_modality_uses_output_text_events():
    async def main():
        async with FakeRealtimeServer(FakeModel(["All good here."]), audio_speedup=50) as server:
            client = await connect(server)
            await client.send("session.update", session=update(output_modalities=["text"]))
            await client.until("session.updated")
            await client.send("response.create")
            events = await client.until("response.done")
            order = types_of(events)
            assert order == [
                *_SAY_ORDER,
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "conversation.item.done",
                "response.done",
            ]
            assert events[4]["part"] == {"type": "text", "text": ""}
            text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
            assert text == "All good here."
            assert events[-3]["item"]["content"] == [{"type": "output_text", "text": text}]
            await client.ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


# -- server VAD ----------------------------------------------------------------


def test_server_vad_on_mulaw_audio_commits_transcribes_and_answers():
    line = "Hi, this is Jane, the payments API is down"

    async def main():
        model = FakeModel([Say("Sorry to hear that, Jane.")])
        async with FakeRealtimeServer(model, audio_speedup=50) as server:
            client = await connect(server)
            await client.send(
                "session.update",
                session=update(
                    audio={
                        "input": {
                            "format": {"type": "audio/pcmu"},
                            "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                        }
                    }
                ),
            )
            await client.until("session.updated")
            server.caller_said(line)
            audio = mulaw_tone(1000) + b"\xff" * 8000  # 1 s of speech, 1 s of silence
            await client.append(audio, 160)

            events = await client.until("response.done")
            order = types_of(events)
            assert order[:8] == [
                "input_audio_buffer.speech_started",
                "input_audio_buffer.speech_stopped",
                "input_audio_buffer.committed",
                "conversation.item.added",
                "conversation.item.done",
                "conversation.item.input_audio_transcription.delta",
                "conversation.item.input_audio_transcription.completed",
                "response.created",
            ]
            started, stopped, committed, added = events[:4]
            item_id = started["item_id"]
            assert started["audio_start_ms"] == 0
            assert stopped["item_id"] == committed["item_id"] == item_id
            assert stopped["audio_end_ms"] == 1500  # speech end + silence_duration_ms
            assert committed["previous_item_id"] is None
            assert added["item"] == {
                "id": item_id,
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            }
            deltas = [
                e
                for e in events
                if e["type"] == "conversation.item.input_audio_transcription.delta"
            ]
            assert "".join(d["delta"] for d in deltas) == line
            assert all(d["content_index"] == 0 and d["item_id"] == item_id for d in deltas)
            completed = next(e for e in events if e["type"].endswith("transcription.completed"))
            assert completed["transcript"] == line

            assert model.turns[0].user_text == line and model.turns[0].trigger == "turn"
            assert server.session.item(item_id)["content"][0]["transcript"] == line
            assert server.session.dialogue() == [
                ("user", line),
                ("assistant", "Sorry to hear that, Jane."),
            ]
            await client.ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


def test_response_waits_reply_delay_after_speech_stopped():
    async def main():
        async with FakeRealtimeServer(reply_delay_ms=200, audio_speedup=50) as server:
            client = await connect(server)
            await client.append(pcm_tone(300) + silence(600, PCM), 4800)
            await client.until("input_audio_buffer.speech_stopped")
            stopped_at = time.monotonic()
            await client.until("response.created")
            assert time.monotonic() - stopped_at >= 0.15
            await client.until("response.done")
            await client.ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


def test_manual_turns_and_text_callers():
    async def main():
        seen = []

        def brain(turn):
            seen.append((turn.trigger, turn.user_text))
            return Say(f"You said {turn.user_text}")

        async with FakeRealtimeServer(FakeModel(brain), audio_speedup=50) as server:
            client = await connect(server)
            await client.send(
                "session.update", session=update(audio={"input": {"turn_detection": None}})
            )
            await client.until("session.updated")
            server.caller_said("the login page is broken")
            await client.append(pcm_tone(500), 4800)
            assert await client.quiet(0.3) == []  # no VAD, no automatic response
            await client.send("input_audio_buffer.commit")
            events = await client.until("conversation.item.done")
            assert types_of(events) == [
                "input_audio_buffer.committed",
                "conversation.item.added",
                "conversation.item.done",
            ]
            # no transcription configured: no transcription events, and no response
            assert await client.quiet(0.3) == []
            await client.send("response.create")
            await client.until("response.done")

            await client.send(
                "conversation.item.create",
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "is it fixed yet?"}],
                },
            )
            added = await client.until("conversation.item.done")
            assert types_of(added) == ["conversation.item.added", "conversation.item.done"]
            assert added[0]["item"]["content"] == [
                {"type": "input_text", "text": "is it fixed yet?"}
            ]
            await client.send("response.create")
            await client.until("response.done")
            assert seen == [
                ("response.create", "the login page is broken"),
                ("response.create", "is it fixed yet?"),
            ]

            await client.send(
                "input_audio_buffer.append", audio=base64.b64encode(pcm_tone(50)).decode()
            )
            await client.send("input_audio_buffer.clear")
            assert (await client.recv())["type"] == "input_audio_buffer.cleared"
            await client.ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


# -- tools ---------------------------------------------------------------------

TOOL = {
    "type": "function",
    "name": "record_details",
    "description": "Record caller details.",
    "parameters": {"type": "object", "properties": {"caller_name": {"type": "string"}}},
}


def test_tool_call_turn_and_follow_up_after_function_call_output():
    async def main():
        def follow_up(turn):
            assert turn.tool_name == "record_details"
            return Say(f"Noted, {turn.tool_result['missing'][0]} is still missing.")

        model = FakeModel([ToolCall("record_details", {"caller_name": "Jane"}), follow_up])
        async with FakeRealtimeServer(model, audio_speedup=50) as server:
            client = await connect(server)
            await client.send("session.update", session=update(tools=[TOOL]))
            await client.until("session.updated")
            await client.send("response.create")
            events = await client.until("response.done")
            assert types_of(events) == [
                "response.created",
                "rate_limits.updated",
                "response.output_item.added",
                "conversation.item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "conversation.item.done",
                "response.done",
            ]
            item = events[2]["item"]
            assert item["type"] == "function_call" and item["name"] == "record_details"
            assert item["arguments"] == "" and item["call_id"].startswith("call_")
            assert events[3]["item"]["call_id"] == item["call_id"]  # before the arguments
            args = [e for e in events if e["type"].startswith("response.function_call_arguments")]
            assert "".join(e["delta"] for e in args[:-1]) == args[-1]["arguments"]
            done = args[-1]
            assert json.loads(done["arguments"]) == {"caller_name": "Jane"}
            assert (done["call_id"], done["name"], done["item_id"], done["output_index"]) == (
                item["call_id"],
                "record_details",
                item["id"],
                0,
            )
            final = events[-1]["response"]
            assert final["status"] == "completed"
            assert final["output"][0]["arguments"] == done["arguments"]

            # the model never answers a tool result on its own
            await client.send(
                "conversation.item.create",
                item={
                    "type": "function_call_output",
                    "call_id": item["call_id"],
                    "output": json.dumps({"missing": ["callback_number"]}),
                },
            )
            added = await client.until("conversation.item.done")
            assert added[0]["item"]["type"] == "function_call_output"
            assert await client.quiet(0.3) == []
            await client.send("response.create")
            events = await client.until("response.done")
            transcript = [e for e in events if e["type"] == "response.output_audio_transcript.done"]
            assert transcript[0]["transcript"] == "Noted, callback_number is still missing."
            assert model.turns[1].tool_output == json.dumps({"missing": ["callback_number"]})
            await client.ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


def test_undeclared_tool_is_reported_as_a_problem():
    async def main():
        model = FakeModel([ToolCall("route_call")])
        async with FakeRealtimeServer(model, audio_speedup=50) as server:
            client = await connect(server)
            await client.send("response.create")
            await client.until("response.done")
            await client.ws.close()
            assert server.problems and "route_call" in server.problems[0]

    asyncio.run(main())


# -- interruptions -------------------------------------------------------------


def test_barge_in_cancels_the_response_and_truncate_records_what_was_heard():
    long = " ".join(["word"] * 20)  # 5 s of audio, streamed in ~1 s

    async def main():
        async with FakeRealtimeServer(FakeModel([Say(long)]), audio_speedup=5) as server:
            client = await connect(server)
            await client.send("response.create")
            events = await client.until("response.output_audio.delta")
            item_id = events[-1]["item_id"]
            for _ in range(4):  # 500 ms of bot audio received
                await client.until("response.output_audio.delta")
            await client.append(pcm_tone(100), 4800)  # the caller talks over the bot
            events = await client.until("response.done")

            started = next(
                n for n, e in enumerate(events) if e["type"] == "input_audio_buffer.speech_started"
            )
            after = [e["type"] for e in events[started + 1 :]]
            assert not any(t.endswith(".delta") for t in after)
            assert after == [
                "response.output_audio.done",
                "response.output_audio_transcript.done",
                "response.content_part.done",
                "response.output_item.done",
                "conversation.item.done",
                "response.done",
            ]
            final = events[-1]["response"]
            assert final["status"] == "cancelled"
            assert final["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
            assert final["output"][0]["status"] == "incomplete"

            sent_ms = (
                len(
                    b"".join(
                        base64.b64decode(e["delta"])
                        for e in client.events
                        if e["type"] == "response.output_audio.delta"
                    )
                )
                / 48
            )
            assert 500 <= sent_ms < 5000
            await client.send(
                "conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=300
            )
            truncated = await client.until("conversation.item.truncated")
            assert truncated[-1]["item_id"] == item_id and truncated[-1]["audio_end_ms"] == 300
            record = server.session.truncations[0]
            assert record["audio_end_ms"] == 300 and record["heard_text"] == "word word"

            await client.send(
                "conversation.item.truncate",
                item_id=item_id,
                content_index=0,
                audio_end_ms=int(sent_ms) + 500,
                event_id="evt_past_end",
            )
            error = (await client.until("error"))[-1]["error"]
            assert error["type"] == "invalid_request_error" and error["code"] == "invalid_value"
            assert error["event_id"] == "evt_past_end"
            await client.send(
                "conversation.item.truncate", item_id="item_nope", content_index=0, audio_end_ms=0
            )
            error = (await client.until("error"))[-1]["error"]
            assert error["code"] == "item_truncate_invalid_item_id"
            assert len(server.session.truncations) == 1
            await client.ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


def test_response_cancel_and_concurrent_response_create():
    async def main():
        model = FakeModel([Say(" ".join(["long"] * 40))])
        async with FakeRealtimeServer(model, audio_speedup=5) as server:
            client = await connect(server)
            await client.send("response.cancel", event_id="evt_cancel")
            error = (await client.until("error"))[-1]["error"]
            assert error["code"] == "response_cancel_not_active"
            assert error["event_id"] == "evt_cancel"

            await client.send("response.create")
            await client.until("response.output_audio.delta")
            await client.send("response.create")
            error = (await client.until("error"))[-1]["error"]
            assert error["code"] == "conversation_already_has_active_response"
            await client.send("response.cancel")
            events = await client.until("response.done")
            final = events[-1]["response"]
            assert final["status"] == "cancelled"
            assert final["status_details"]["reason"] == "client_cancelled"
            assert await client.quiet(0.2) == []
            assert len(server.session.responses) == 1
            await client.ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


# -- errors ------------------------------------------------------------------------


def test_invalid_client_events_get_errors_and_the_session_stays_open():
    async def main():
        async with FakeRealtimeServer() as server:
            client = await connect(server)

            async def error_for(raw: str) -> dict:
                await client.ws.send(raw)
                event = await client.recv()
                assert event["type"] == "error"
                assert event["error"]["type"] == "invalid_request_error"
                assert event["error"]["code"]
                return event["error"]

            assert (await error_for("{not json"))["code"] == "invalid_json"
            assert (await error_for(json.dumps({"event_id": "e1"})))["code"] == (
                "missing_required_parameter"
            )
            beta_name = {"type": "response.audio.delta", "event_id": "e2"}
            unknown = await error_for(json.dumps(beta_name))
            assert unknown["code"] == "invalid_value" and unknown["event_id"] == "e2"
            # beta session shape is rejected, nothing changes
            beta = await error_for(
                json.dumps(
                    {
                        "type": "session.update",
                        "session": {"type": "realtime", "modalities": ["audio"]},
                    }
                )
            )
            assert beta["code"] == "unknown_parameter" and beta["param"] == "session.modalities"
            missing = await error_for(
                json.dumps({"type": "session.update", "session": {"instructions": "x"}})
            )
            assert missing["param"] == "session.type"
            assert (await error_for(json.dumps({"type": "input_audio_buffer.commit"})))["code"] == (
                "input_audio_buffer_commit_empty"
            )
            bad_item = await error_for(
                json.dumps(
                    {
                        "type": "conversation.item.create",
                        "item": {
                            "type": "message",
                            "role": "assistant",
                            "content": [{"type": "input_text", "text": "hi"}],
                        },
                    }
                )
            )
            assert bad_item["param"] == "item.content[0].type"

            await client.send("input_audio_buffer.clear")
            assert (await client.recv())["type"] == "input_audio_buffer.cleared"
            await client.send("session.update", session=update(instructions="still here"))
            updated = await client.recv()
            assert updated["type"] == "session.updated"
            assert updated["session"]["instructions"] == "still here"
            assert "modalities" not in updated["session"]
            await client.ws.close()
            assert_wire_ok(server)

    asyncio.run(main())


def test_fault_injection():
    async def main():
        async with FakeRealtimeServer(
            FakeModel(["one two three four five six"] * 3), audio_speedup=50
        ) as server:
            # refused handshakes, then accepted again
            server.refuse_connections(status=503, times=1)
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(server.url, additional_headers=AUTH)
            assert refused.value.response.status_code == 503
            with pytest.raises(websockets.InvalidStatus) as unauthorised:
                await websockets.connect(server.url)
            assert unauthorised.value.response.status_code == 401
            client = await connect(server)
            assert [h.status for h in server.handshakes] == [503, 401, 101]

            # error and raw text on cue
            await server.send_error("server_error", "Boom")
            error = await client.recv()
            assert error["type"] == "error" and error["error"]["message"] == "Boom"
            await server.send_raw('{"type": "response.unknown_thing"}')
            assert (await client.recv())["type"] == "response.unknown_thing"

            # stall: nothing at all comes back; resume: the next response works
            server.stall()
            await client.send("response.create")
            assert await client.quiet(0.3) == []
            server.resume()
            await client.send("response.create")
            assert (await client.until("response.done"))[-1]["response"]["status"] == "completed"

            # drop mid-response: the socket dies with no close frame
            server.drop_after(2, of_type="response.output_audio.delta")
            await client.send("response.create")
            with pytest.raises(websockets.ConnectionClosedError):
                while True:
                    await client.recv()
            last = [e for e in client.events if e["type"] == "response.created"][-1]
            deltas = [
                e
                for e in client.events
                if e["type"] == "response.output_audio.delta"
                and e["response_id"] == last["response"]["id"]
            ]
            assert len(deltas) == 2 and client.events[-1] is deltas[-1]

            # a new connection works; drop() kills it at once
            client = await connect(server)
            await server.drop()
            with pytest.raises(websockets.ConnectionClosedError):
                await client.recv()
            assert len(server.sessions) == 2

    asyncio.run(main())


def test_beta_header_and_wrong_path_are_refused():
    async def main():
        async with FakeRealtimeServer() as server:
            with pytest.raises(websockets.InvalidStatus) as wrong:
                await websockets.connect(server.url + "/realtime", additional_headers=AUTH)
            assert wrong.value.response.status_code == 404
            ws = await websockets.connect(
                server.url, additional_headers={**AUTH, "OpenAI-Beta": "realtime=v1"}
            )
            event = json.loads(await ws.recv())
            assert event["type"] == "error"
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4000

    asyncio.run(main())


# -- the official SDK ----------------------------------------------------------------


def test_openai_sdk_client_gets_typed_events():
    from openai import AsyncOpenAI
    from openai.types.realtime import (
        ResponseAudioDeltaEvent,
        ResponseDoneEvent,
        SessionCreatedEvent,
        SessionUpdatedEvent,
    )

    async def main():
        model = FakeModel(["Hello from the fake."])
        async with FakeRealtimeServer(model, audio_speedup=50) as server:
            base = f"ws://127.0.0.1:{server.port}/v1"
            client = AsyncOpenAI(api_key="sk-test", websocket_base_url=base)
            async with client.realtime.connect(model="gpt-realtime") as conn:
                created = await conn.recv()
                assert isinstance(created, SessionCreatedEvent)
                assert created.session.type == "realtime"
                await conn.session.update(
                    session={
                        "type": "realtime",
                        "output_modalities": ["audio"],
                        "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "cedar"}},
                    }
                )
                updated = await conn.recv()
                assert isinstance(updated, SessionUpdatedEvent)
                assert updated.session.audio.output.voice == "cedar"
                await conn.response.create()
                received = []
                async for event in conn:
                    received.append(event)
                    if isinstance(event, ResponseDoneEvent):
                        break
                audio = [e for e in received if isinstance(e, ResponseAudioDeltaEvent)]
                assert sum(len(base64.b64decode(e.delta)) for e in audio) == 4 * 250 * 8
                assert received[-1].response.status == "completed"
            sess = server.session
            assert sess.model == "gpt-realtime"
            assert sess.connected_headers["Authorization"] == "Bearer sk-test"
            assert "OpenAI-Beta" not in sess.connected_headers
            assert_wire_ok(server)

    asyncio.run(main())
