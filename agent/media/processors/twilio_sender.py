"""The bot's side of a Twilio media stream: audio, marks and clears, straight onto the socket.

Pipecat's output transport would decode each chunk to PCM, re-chunk it, pace
it in real time with a sleep per chunk and encode it back to mu-law, and
every chunk and mark would take a hop through each stage's queue on the way.
Twilio buffers media and plays it at the right speed by itself, and echoes
each mark once the audio before it has played, so the model's processor
sends ahead through this writer: no decoding, no timers, no frames, one
message per model delta. The pipeline hears only when the bot starts and
stops being heard (:class:`agent.media.frames.BotPlaybackFrame`).
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
