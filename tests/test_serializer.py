"""Caller audio leaves the serializer untouched, as a frame; marks, keys and the stream's end are frames too."""

import asyncio
import base64
import json

from agent.media import mulaw
from pipecat.frames.frames import InputDTMFFrame

from agent.media.frames import CallerAudioFrame, TwilioMarkFrame, TwilioStopFrame
from agent.media.processors.twilio_serializer import SafeTwilioSerializer

AUDIO = mulaw.tone(440, 20)
MEDIA = json.dumps({"event": "media", "streamSid": "MZ1", "media": {"track": "inbound", "payload": base64.b64encode(AUDIO).decode()}})


def test_media_becomes_a_frame_with_twilios_own_payload():
    frame = asyncio.run(SafeTwilioSerializer("MZ1").deserialize(MEDIA))
    assert isinstance(frame, CallerAudioFrame)
    assert frame.payload == json.loads(MEDIA)["media"]["payload"] and frame.mulaw == AUDIO


def test_marks_dtmf_and_stop_become_frames_and_malformed_media_is_dropped():
    serializer = SafeTwilioSerializer("MZ1")
    mark = asyncio.run(serializer.deserialize(json.dumps({"event": "mark", "mark": {"name": "m1"}})))
    assert isinstance(mark, TwilioMarkFrame) and mark.mark == "m1"
    key = asyncio.run(serializer.deserialize(json.dumps({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": "5"}})))
    assert isinstance(key, InputDTMFFrame) and key.button.value == "5"
    assert isinstance(asyncio.run(serializer.deserialize(json.dumps({"event": "stop"}))), TwilioStopFrame)
    assert asyncio.run(serializer.deserialize(json.dumps({"event": "media", "media": {"payload": "not base64!"}}))) is None
    assert serializer.malformed == 1
