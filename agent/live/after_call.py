"""After the call: its recordings transcribed by an OpenAI model and added to the alerts it opened.

Runs in the background once a live call reaches its end, on whichever
replica served that last webhook. The audio is fetched from Twilio into
memory, sent to the transcription model and dropped; nothing about the
caller is written to disk. Every failure is logged and ends the job: the
alert already has the recording's link and the conversation's transcript.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from loguru import logger

from agent.core.call import AlertLink, AlertNote, OpenedAlert
from agent.flow.models import Flow
from agent.live.twilio_rest import TwilioRest
from agent.conversation.openai_http import openai_client
from agent.core.platforms import add_note
from agent.core.registry import Registry
from agent.core.settings import Settings
from agent.core.sources import PluginContext

UNFINISHED = {"in-progress", "processing", "paused"}
TRANSCRIBE_TIMEOUT_S = 120.0
MAX_AUDIO_BYTES = 25 * 1024 * 1024  # the transcription API's upload limit


@dataclass
class AfterCall:
    """What transcribing one call's recordings needs."""

    flow: Flow
    registry: Registry
    settings: Settings
    context: PluginContext
    rest: TwilioRest

    async def transcribe_into_alerts(self, call_sid: str, alerts: list[OpenedAlert]) -> AlertNote | None:
        """Wait for the call's recordings, transcribe them, add the text to every alert; the note added."""
        targets = [(a, self.flow.nodes[a.node].platform) for a in alerts if getattr(self.flow.nodes.get(a.node), "platform", None)]
        if not targets:
            return None
        recordings = await self._finished_recordings(call_sid)
        parts: list[str] = []
        links: list[AlertLink] = []
        for recording in recordings:
            sid = recording["sid"]
            try:
                audio = await self.rest.recording_audio(sid)
                if len(audio) > MAX_AUDIO_BYTES:
                    logger.warning("recording {} of call {} is too long to transcribe", sid, call_sid)
                    continue
                text = await self._transcribe(audio)
            except Exception as exc:
                logger.warning("transcribing recording {} of call {} failed: {!r}", sid, call_sid, exc)
                continue
            if text:
                parts.append(text)
                links.append(AlertLink(href=self.rest.recording_url(sid), text=f"Call recording {sid}"))
        if not parts:
            return None
        note = AlertNote(text="Transcription of the call's recording:\n" + "\n\n".join(parts), links=links)
        for opened, ref in targets:
            if await add_note(opened.alert, note, ref, self.registry, self.context):
                logger.info("call {}: recording transcription added to the {} alert", call_sid, opened.alert.receipt.platform)
        return note

    async def _finished_recordings(self, call_sid: str) -> list[dict]:
        """The call's completed recordings, once none is still being made or processed (or the wait is over)."""
        deadline = time.monotonic() + self.settings.recording_wait_s
        delay = 1.0
        while True:
            try:
                recordings = await self.rest.recordings(call_sid)
            except Exception as exc:
                logger.warning("listing the recordings of call {} failed: {!r}", call_sid, exc)
                recordings = None
            if recordings is not None and not any(r.get("status") in UNFINISHED for r in recordings):
                return [r for r in recordings if r.get("status", "completed") == "completed"]
            if time.monotonic() + delay > deadline:
                logger.warning("recordings of call {} not ready after {:.0f}s; not transcribed", call_sid, self.settings.recording_wait_s)
                return []
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15.0)

    async def _transcribe(self, audio: bytes) -> str:
        async with openai_client(self.settings, TRANSCRIBE_TIMEOUT_S) as client:
            result = await client.audio.transcriptions.create(
                model=self.settings.openai_transcription_model, file=("call.mp3", audio, "audio/mpeg"),
            )
        return str(getattr(result, "text", "") or "").strip()
