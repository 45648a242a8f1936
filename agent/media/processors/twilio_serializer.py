"""Pipecat's Twilio serializer, made safe for production calls.

* A malformed message (bad JSON, bad base64, a wrong field type) is logged
  and dropped: Pipecat's input transport ends its receive loop on the first
  exception, which would leave the call deaf.
* ``mark`` and ``stop`` become frames (Pipecat ignores them): marks tell when
  bot audio has really been played, which silence timers and barge-in
  truncation depend on.
* Oversized messages are refused before parsing; a media message is parsed
  once and becomes a :class:`CallerAudioFrame` carrying Twilio's base64
  mu-law for the model (``audio/pcmu``): the caller's audio is never decoded
  or re-encoded on its way, and skips Pipecat's audio queue (the processors
  after the transport run in direct mode: one call per stage, no queue hop).
* It never hangs up by itself: ending a call is a REST call the agent makes
  after the flow decided, not a side effect of a closing pipeline.
"""

from __future__ import annotations

import base64
import json

from loguru import logger
from pipecat.frames.frames import Frame
from pipecat.serializers.twilio import TwilioFrameSerializer

from agent.media.frames import CallerAudioFrame, TwilioMarkFrame, TwilioStopFrame

MAX_MESSAGE_BYTES = 64 * 1024  # a 20 ms frame is ~300 bytes; Twilio never sends near this


class SafeTwilioSerializer(TwilioFrameSerializer):
    """Twilio's messages as frames: media, marks, DTMF and stop; anything malformed is dropped and counted."""

    def __init__(self, stream_sid: str, call_sid: str | None = None) -> None:
        super().__init__(stream_sid, call_sid=call_sid, params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
        self.malformed = 0

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if len(data) > MAX_MESSAGE_BYTES:
            self._drop("oversized message", len(data))
            return None
        try:
            message = json.loads(data)
            event = message.get("event") if isinstance(message, dict) else None
            if event == "mark":
                return TwilioMarkFrame(mark=str(message["mark"]["name"]))
            if event == "stop":
                return TwilioStopFrame()
            if event == "media":
                payload, audio = self._media(message)
                return CallerAudioFrame(payload=payload, mulaw=audio) if audio else None
            if event == "dtmf":
                return await super().deserialize(data)
        except Exception as exc:  # noqa: BLE001 - whatever the caller's carrier sends, the call goes on
            self._drop(type(exc).__name__, len(data))
        return None

    @staticmethod
    def _media(message: dict) -> tuple[str, bytes]:
        """Twilio's base64 mu-law, checked, and its bytes: it goes on to the model as it came (``audio/pcmu``)."""
        payload = message["media"]["payload"]
        if not isinstance(payload, str):
            raise TypeError("media payload is not text")
        return payload, base64.b64decode(payload, validate=True)

    def _drop(self, why: str, size: int) -> None:
        self.malformed += 1
        if self.malformed <= 5 or self.malformed % 100 == 0:
            logger.warning("dropped a malformed Twilio message ({}, {} bytes; {} so far)", why, size, self.malformed)
