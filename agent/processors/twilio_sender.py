"""Bot audio and marks straight onto Twilio's socket, in order, as the model sends them.

Pipecat's output transport would decode each chunk to PCM, re-chunk it, pace
it in real time with a sleep per chunk and encode it back to mu-law. Twilio
buffers media and plays it at the right speed by itself, and echoes each mark
once the audio before it has played, so we send ahead: no decoding, no
timers, one message per model delta. Barge-in sends ``clear`` (the
``InterruptionFrame`` goes on to the transport's serializer) and truncates
the model's item at the last echoed mark.

It sits right after the model's processor: of the bot's audio, only the
first chunk after each mark travels on (the supervisor needs to know the bot
speaks, not every chunk), and marks travel on after they are sent.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from loguru import logger
from pipecat.frames.frames import Frame, OutputTransportMessageFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.frames import BotAudioFrame


class TwilioMediaSender(FrameProcessor):
    def __init__(self, send_text: Callable[[str], Awaitable[None]], stream_sid: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._send_text = send_text
        self._media_prefix = '{"event":"media","streamSid":' + json.dumps(stream_sid) + ',"media":{"payload":"'
        self._gone = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, BotAudioFrame):
            await self._send(self._media_prefix + frame.payload + '"}}')
            if frame.first:  # later stages only need to know the bot started speaking, not every chunk
                await self.push_frame(frame, direction)
        elif isinstance(frame, OutputTransportMessageFrame):
            await self._send(json.dumps(frame.message))
            await self.push_frame(frame, direction)  # marks: the supervisor tracks what is still unplayed
        else:
            await self.push_frame(frame, direction)

    async def _send(self, text: str) -> None:
        if self._gone:
            return
        try:
            await self._send_text(text)
        except Exception as exc:  # the stream is closing: the call has moved on or hung up
            self._gone = True
            logger.debug("Twilio stream closed while sending: {}", type(exc).__name__)
