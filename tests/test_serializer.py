"""Caller audio leaves the serializer untouched: as a frame, or straight to its consumer."""

import asyncio
import base64
import json

from agent import mulaw
from agent.frames import CallerAudioFrame
from agent.processors.twilio_serializer import SafeTwilioSerializer

AUDIO = mulaw.tone(440, 20)
MEDIA = json.dumps({"event": "media", "streamSid": "MZ1", "media": {"track": "inbound", "payload": base64.b64encode(AUDIO).decode()}})


def test_media_becomes_a_frame_with_twilios_own_payload():
    frame = asyncio.run(SafeTwilioSerializer("MZ1").deserialize(MEDIA))
    assert isinstance(frame, CallerAudioFrame)
    assert frame.payload == json.loads(MEDIA)["media"]["payload"] and frame.mulaw == AUDIO


def test_with_an_audio_sink_media_goes_straight_to_it_and_nothing_else_does():
    heard = []

    async def sink(payload: str, audio: bytes) -> None:
        heard.append((payload, audio))

    serializer = SafeTwilioSerializer("MZ1", audio_sink=sink)
    assert asyncio.run(serializer.deserialize(MEDIA)) is None
    assert heard == [(json.loads(MEDIA)["media"]["payload"], AUDIO)]
    mark = asyncio.run(serializer.deserialize(json.dumps({"event": "mark", "mark": {"name": "m1"}})))
    assert mark.mark == "m1" and len(heard) == 1
    assert asyncio.run(serializer.deserialize(json.dumps({"event": "media", "media": {"payload": "not base64!"}}))) is None
    assert len(heard) == 1 and serializer.malformed == 1
