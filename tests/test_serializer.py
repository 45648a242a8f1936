"""Caller audio leaves the serializer untouched: as a frame, or straight to its consumer (with mark echoes)."""

import asyncio
import base64
import json

from agent.media import mulaw
from agent.media.frames import CallerAudioFrame, TwilioStopFrame
from agent.media.processors.twilio_serializer import SafeTwilioSerializer

AUDIO = mulaw.tone(440, 20)
MEDIA = json.dumps({"event": "media", "streamSid": "MZ1", "media": {"track": "inbound", "payload": base64.b64encode(AUDIO).decode()}})


def test_media_becomes_a_frame_with_twilios_own_payload():
    frame = asyncio.run(SafeTwilioSerializer("MZ1").deserialize(MEDIA))
    assert isinstance(frame, CallerAudioFrame)
    assert frame.payload == json.loads(MEDIA)["media"]["payload"] and frame.mulaw == AUDIO


class Sink:
    def __init__(self) -> None:
        self.heard: list[tuple[str, bytes]] = []
        self.marks: list[str] = []

    async def caller_audio(self, payload: str, audio: bytes) -> None:
        self.heard.append((payload, audio))

    async def mark_played(self, name: str) -> None:
        self.marks.append(name)


def test_with_a_sink_media_and_marks_go_straight_to_it_and_nothing_else_does():
    sink = Sink()
    serializer = SafeTwilioSerializer("MZ1", sink=sink)
    assert asyncio.run(serializer.deserialize(MEDIA)) is None
    assert sink.heard == [(json.loads(MEDIA)["media"]["payload"], AUDIO)]
    assert asyncio.run(serializer.deserialize(json.dumps({"event": "mark", "mark": {"name": "m1"}}))) is None
    assert sink.marks == ["m1"] and len(sink.heard) == 1
    assert isinstance(asyncio.run(serializer.deserialize(json.dumps({"event": "stop"}))), TwilioStopFrame)
    assert asyncio.run(serializer.deserialize(json.dumps({"event": "media", "media": {"payload": "not base64!"}}))) is None
    assert len(sink.heard) == 1 and serializer.malformed == 1
