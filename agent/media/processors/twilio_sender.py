"""The writer under transport out (:mod:`agent.media.processors.twilio_output`): media, marks and clears onto the socket.

Each message is built from prefixes made once per stream: no JSON encoding
of the audio, no decoding, no timers (Twilio paces playback itself).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from loguru import logger


class TwilioMediaSender:
    """Writes ``media``, ``mark`` and ``clear`` messages for one stream; quiet once the stream is gone."""

    def __init__(self, send_text: Callable[[str], Awaitable[None]], stream_sid: str) -> None:
        self._send_text = send_text
        sid = json.dumps(stream_sid)
        self._media_prefix = '{"event":"media","streamSid":' + sid + ',"media":{"payload":"'
        self._mark_prefix = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":'
        self._clear = '{"event":"clear","streamSid":' + sid + "}"
        self._gone = False

    async def media(self, payload: str) -> None:
        """Base64 8 kHz mu-law, as the model sent it (``audio/pcmu``)."""
        await self._send(self._media_prefix + payload + '"}}')

    async def mark(self, name: str) -> None:
        """Twilio echoes ``name`` once every byte of audio sent before it has played (or was cleared)."""
        await self._send(self._mark_prefix + json.dumps(name) + "}}")

    async def clear(self) -> None:
        """Drop the audio Twilio still buffers (barge-in); it echoes the marks it held."""
        await self._send(self._clear)

    async def _send(self, text: str) -> None:
        if self._gone:
            return
        try:
            await self._send_text(text)
        except Exception as exc:  # the stream is closing: the call has moved on or hung up
            self._gone = True
            logger.debug("Twilio stream closed while sending: {}", type(exc).__name__)
