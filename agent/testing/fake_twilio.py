"""A fake Twilio phone call: the client side of a bidirectional Media Stream.

``FakeTwilioCall`` connects to *your* server over a real WebSocket (the
``websockets`` asyncio client) and behaves like Twilio does after
``<Connect><Stream url="wss://…"/>``:

- the upgrade GET carries ``X-Twilio-Signature`` when ``auth_token`` is given:
  ``RequestValidator(auth_token).compute_signature(signed_url, {})`` where
  ``signed_url`` is ``public_url`` (default ``ws_url``) with the ``wss`` scheme;
- it sends ``connected``, then ``start`` (``sequenceNumber`` "1"), then one
  ``media`` message every 20 ms in real time: 160 bytes of 8 kHz mu-law, base64,
  track ``inbound``, ``chunk`` counting from "1", ``timestamp`` = ms of stream
  media time, ``sequenceNumber`` shared by every message after ``connected``.
  The caller is silent (``0xFF``) unless you queue speech with ``say()``;
- it "plays" what the server sends: ``media`` payloads go into a playback
  buffer that drains at 8000 bytes/s (wall clock); a ``mark`` is echoed once
  all audio received before it has played; ``clear`` drops the unplayed audio
  and echoes every pending mark at once;
- ``hang_up()`` sends ``stop`` and closes the socket (code 1000).

Pacing uses absolute deadlines on the event loop clock, so 50 frames/s hold
over minutes; a late loop is caught up by sending the missed frames at once.
Times below (``started_at``, ``first_audio_at``, …) are ``loop.time()``
values, which is ``time.monotonic()`` on the standard event loop.

Example::

    async with FakeTwilioCall("ws://127.0.0.1:8765/ws", auth_token="tok",
                              public_url="wss://voice.example.com/ws") as call:
        await call.wait_for_audio(ms=500)          # the greeting starts
        await call.wait_until_quiet(ms=700)        # … and ends
        await call.say(ms=1200)                    # the caller speaks (a tone)
        await call.press("5")
        await call.wait_for_audio(ms=300, new=True)
    assert not call.closed_by_server
    assert call.protocol_errors == []

Public API (all coroutine methods must run on the loop that connected):

- ``FakeTwilioCall(ws_url, *, auth_token=None, public_url=None, account_sid=…,
  call_sid=…, stream_sid=…, from_number="+15555550100",
  to_number="+15555550199", custom_parameters=None, connect_timeout=5.0)``
- ``async with call`` / ``await call.connect()``: connect, send ``connected`` +
  ``start`` and start the real-time media sender, reader and mark player.
- ``await call.say(ms=1200, *, freq_hz=440.0, amplitude=0.3, audio=None)``:
  queue caller speech (a tone, or your own mu-law ``audio``), return once its
  last frame was sent.
- ``await call.silence(ms)``: queue explicit silence after any queued speech
  and return once it was sent.
- ``await call.press(digit)``: send a ``dtmf`` event (0-9, ``*``, ``#``).
- ``await call.send_raw(data)``: send a text (``str``) or binary (``bytes``)
  frame verbatim, for robustness tests; no sequence number is used.
- ``await call.hang_up()``: send ``stop`` and close; idempotent; also what
  leaving ``async with`` does.
- ``await call.wait_for_audio(ms=200, *, timeout=5.0, new=False)``: until that
  much bot audio was received in total (``new=True``: since this call).
- ``await call.wait_until_quiet(ms=500, *, timeout=10.0, drain=False)``: until
  no bot audio arrived for ``ms`` (``drain=True``: and the playback buffer is
  empty).
- ``await call.wait_closed(timeout=5.0)``: until the socket is closed.
- State: ``bot_audio`` (bytes, everything received, cleared audio included),
  ``received_ms``, ``played_ms``, ``buffered_ms``, ``cleared_ms``,
  ``first_audio_at``, ``last_audio_at``, ``media_received_at`` (arrival time of
  each ``media`` message), ``clears``, ``clear_times``, ``marks_echoed``
  (names, in echo order), ``mark_log`` (``MarkRecord`` per received mark),
  ``messages`` (other parsed server messages), ``protocol_errors`` (what Twilio
  would not accept: bad JSON, wrong ``streamSid``, bad base64, unknown events),
  ``frames_sent``, ``sent_frame_times``, ``started_at``, ``closed``,
  ``closed_by_server``, ``close_code``, ``close_reason``, ``signed_url``,
  ``signature``, and the SIDs and numbers given to the constructor.

Errors: a server that refuses the upgrade (e.g. Starlette closing before
``accept()`` answers HTTP 403) makes ``connect()`` / ``async with`` raise
``websockets.exceptions.InvalidStatus``; a server that accepts and then
closes (e.g. code 1008 for a bad signature) shows up as ``closed_by_server``
and ``close_code``, and later ``say``/``press``/``send_raw`` raise
``CallEnded``.

Not modelled: the ~10 minute playback buffer limit (warning 31931), Twilio's
real handling of invalid server messages (recorded in ``protocol_errors``
only) and the exact HTTP headers of Twilio's upgrade request besides
``X-Twilio-Signature`` (the ``User-Agent`` used here is a guess).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from agent.media import mulaw

__all__ = ["DTMF_DIGITS", "CallEnded", "FakeTwilioCall", "MarkRecord", "new_sid"]

FRAME_BYTES = mulaw.FRAME_BYTES  # 160
FRAME_S = mulaw.FRAME_MS / 1000.0  # 0.02
BYTES_PER_S = mulaw.SAMPLE_RATE  # 8000
SILENCE_FRAME = mulaw.SILENCE * FRAME_BYTES
DTMF_DIGITS = frozenset("0123456789*#")
USER_AGENT = "Twilio.TmeWs/1.0"  # unconfirmed guess at Twilio's upgrade User-Agent


def new_sid(prefix: str) -> str:
    """A Twilio-style SID: two-letter prefix + 32 random lower-case hex digits."""
    return prefix + secrets.token_hex(16)


class CallEnded(Exception):
    """The WebSocket is closed (by the server, or by ``hang_up()``)."""


@dataclass
class MarkRecord:
    """One ``mark`` received from the server and what the fake did with it."""

    name: str
    received_at: float
    due_at: float
    """When the audio received before the mark finishes playing (or the clear time)."""
    echoed_at: float | None = None
    cleared: bool = False
    """True when a ``clear`` released it early."""


@dataclass
class _Segment:
    audio: bytes
    done: asyncio.Future[None]
    pos: int = 0


def _wss(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("wss", parts.netloc, parts.path, parts.query, parts.fragment))


class FakeTwilioCall:
    """One simulated phone call streaming to a server like Twilio Media Streams does.

    ``ws_url`` is where to connect (``ws://`` or ``wss://``).  ``public_url`` is
    the URL Twilio would have been given in TwiML (default: ``ws_url``); the
    signature is computed over it with the ``wss`` scheme, exactly as written
    (port included), with empty params.  Like TwiML's ``<Stream url>``, neither
    URL may carry a query string: pass data in ``custom_parameters``; they
    arrive in ``start.customParameters`` together with ``from_number`` and
    ``to_number`` (omitted when ``None``); the merged dict is
    ``self.custom_parameters``.  SIDs not given are random (prefix + 32 hex).
    """

    def __init__(
        self,
        ws_url: str,
        *,
        auth_token: str | None = None,
        public_url: str | None = None,
        account_sid: str | None = None,
        call_sid: str | None = None,
        stream_sid: str | None = None,
        from_number: str | None = "+15555550100",
        to_number: str | None = "+15555550199",
        custom_parameters: dict[str, str] | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        if urlsplit(ws_url).scheme not in ("ws", "wss"):
            raise ValueError(f"ws_url must be ws:// or wss://, got {ws_url!r}")
        for url in (ws_url, public_url):
            if url and urlsplit(url).query:
                raise ValueError(f"Twilio stream URLs may not contain a query string ({url!r}); use custom_parameters")
        self.ws_url = ws_url
        self.auth_token = auth_token
        self.signed_url = _wss(public_url or ws_url)
        self.signature: str | None = (
            RequestValidator(auth_token).compute_signature(self.signed_url, {}) if auth_token else None
        )
        self.account_sid = account_sid or new_sid("AC")
        self.call_sid = call_sid or new_sid("CA")
        self.stream_sid = stream_sid or new_sid("MZ")
        self.from_number = from_number
        self.to_number = to_number
        params: dict[str, str] = {}
        if from_number is not None:
            params["from_number"] = from_number
        if to_number is not None:
            params["to_number"] = to_number
        params.update(custom_parameters or {})
        self.custom_parameters = {str(k): str(v) for k, v in params.items()}
        self.connect_timeout = connect_timeout

        # What we sent
        self.frames_sent = 0
        self.sent_frame_times: list[float] = []
        self._seq = 0

        # What we received / played
        self._bot_audio = bytearray()
        self.media_received_at: list[float] = []
        self.first_audio_at: float | None = None
        self.last_audio_at: float | None = None
        self.cleared_ms = 0.0
        self.clears = 0
        self.clear_times: list[float] = []
        self.marks_echoed: list[str] = []
        self.mark_log: list[MarkRecord] = []
        self.messages: list[dict[str, Any]] = []
        self.protocol_errors: list[str] = []
        self._play_end = 0.0  # loop time at which the buffered audio has played

        # Connection state
        self.started_at: float | None = None
        self.closed_by_server = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._ws: ClientConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._send_lock = asyncio.Lock()
        self._segments: deque[_Segment] = deque()
        self._pending_marks: deque[MarkRecord] = deque()
        self._mark_wakeup = asyncio.Event()
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._hanging_up = False
        self._sender_task: asyncio.Task[None] | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._marks_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.hang_up()

    async def connect(self) -> None:
        """Open the socket, send ``connected`` and ``start``, start streaming."""
        if self._ws is not None:
            raise RuntimeError("already connected")
        self._loop = asyncio.get_running_loop()
        headers = {"X-Twilio-Signature": self.signature} if self.signature else {}
        self._ws = await connect(
            self.ws_url,
            additional_headers=headers,
            user_agent_header=USER_AGENT,
            compression=None,
            proxy=None,
            ping_interval=None,
            open_timeout=self.connect_timeout,
            close_timeout=2.0,
        )
        start = {
            "accountSid": self.account_sid,
            "streamSid": self.stream_sid,
            "callSid": self.call_sid,
            "tracks": ["inbound"],
            "customParameters": dict(self.custom_parameters),
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": mulaw.SAMPLE_RATE, "channels": 1},
        }
        try:
            await self._ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            await self._send_event("start", start)
        except ConnectionClosed:
            pass  # closed right after the upgrade: the reader records it as closed_by_server
        self.started_at = self._loop.time()
        self._play_end = self.started_at
        self._sender_task = asyncio.create_task(self._media_sender(), name="fake-twilio-sender")
        self._reader_task = asyncio.create_task(self._reader(), name="fake-twilio-reader")
        self._marks_task = asyncio.create_task(self._mark_player(), name="fake-twilio-marks")

    async def hang_up(self) -> None:
        """Send ``stop`` and close the socket (code 1000). Safe to call twice or after the server closed."""
        if self._ws is None or self._hanging_up:
            return
        self._hanging_up = True
        workers = [t for t in (self._sender_task, self._marks_task) if t is not None]
        for task in workers:
            task.cancel()
        if workers:
            await asyncio.wait(workers)
        if not self._closed.is_set():
            try:
                await self._send_event("stop", {"accountSid": self.account_sid, "callSid": self.call_sid})
            except ConnectionClosed:
                pass
            await self._ws.close()
        if self._reader_task is not None:
            _, pending = await asyncio.wait([self._reader_task], timeout=3.0)
            for task in pending:
                task.cancel()
        self._mark_closed()

    # ------------------------------------------------------------------ caller actions

    async def say(
        self,
        ms: float = 1200,
        *,
        freq_hz: float = 440.0,
        amplitude: float = 0.3,
        audio: bytes | None = None,
    ) -> None:
        """Queue caller speech and return once its last frame has been sent.

        The speech is a sine ``tone`` of ``ms`` milliseconds unless ``audio``
        (8 kHz mu-law bytes) is given.  It is padded with silence to whole
        20 ms frames and sent after anything queued before it.  Raises
        ``CallEnded`` if the socket closes first.
        """
        if audio is None:
            audio = mulaw.tone(freq_hz, ms, amplitude)
        await self._queue(audio)

    async def silence(self, ms: float) -> None:
        """Queue ``ms`` of explicit silence (after queued speech); return once it was sent."""
        await self._queue(mulaw.SILENCE * round(mulaw.SAMPLE_RATE * ms / 1000))

    async def press(self, digit: str) -> None:
        """Send a ``dtmf`` event for one key: 0-9, ``*`` or ``#``."""
        if len(digit) != 1 or digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        self._require_open()
        try:
            await self._send_event("dtmf", {"track": "inbound_track", "digit": digit})
        except ConnectionClosed as exc:
            raise CallEnded(str(exc)) from exc

    async def send_raw(self, data: str | bytes) -> None:
        """Send one frame verbatim (``str`` as text, ``bytes`` as binary); no sequence number is used."""
        ws = self._require_open()
        async with self._send_lock:
            try:
                await ws.send(data)
            except ConnectionClosed as exc:
                raise CallEnded(str(exc)) from exc

    # ------------------------------------------------------------------ waiting

    async def wait_for_audio(self, ms: float = 200, *, timeout: float = 5.0, new: bool = False) -> float:
        """Wait until ``ms`` of bot audio was received in total (``new=True``: since now).

        Returns ``received_ms``.  Raises ``TimeoutError`` after ``timeout``
        seconds and ``CallEnded`` if the socket closes before.
        """
        loop = self._require_loop()
        target = int(ms * BYTES_PER_S / 1000) + (len(self._bot_audio) if new else 0)
        deadline = loop.time() + timeout
        while len(self._bot_audio) < target:
            if self._closed.is_set():
                raise CallEnded(f"socket closed after {self.received_ms:.0f} ms of bot audio (wanted {ms} ms)")
            if loop.time() >= deadline:
                raise TimeoutError(
                    f"only {self.received_ms:.0f} ms of bot audio after {timeout} s (wanted {ms} ms"
                    f"{' more' if new else ''})"
                )
            await self._wait_change(deadline)
        return self.received_ms

    async def wait_until_quiet(self, ms: float = 500, *, timeout: float = 10.0, drain: bool = False) -> None:
        """Wait until no bot audio arrived for ``ms`` (counted from the stream start if none came yet).

        With ``drain=True`` also wait until the playback buffer has played out.
        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        loop = self._require_loop()
        deadline = loop.time() + timeout
        while True:
            last = self.last_audio_at if self.last_audio_at is not None else self.started_at
            assert last is not None
            quiet_at = last + ms / 1000
            if drain:
                quiet_at = max(quiet_at, self._play_end)
            now = loop.time()
            if now >= quiet_at:
                return
            if now >= deadline:
                raise TimeoutError(f"bot audio still arriving after {timeout} s (wanted {ms} ms of quiet)")
            await self._wait_change(min(quiet_at, deadline))

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the socket is closed (by either side)."""
        await asyncio.wait_for(self._closed.wait(), timeout)

    # ------------------------------------------------------------------ state

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def bot_audio(self) -> bytes:
        """Every mu-law byte the server sent, in order (cleared audio included)."""
        return bytes(self._bot_audio)

    @property
    def received_ms(self) -> float:
        return len(self._bot_audio) * 1000 / BYTES_PER_S

    @property
    def buffered_ms(self) -> float:
        """Received audio that has not played yet."""
        if self._loop is None:
            return 0.0
        return max(0.0, self._play_end - self._loop.time()) * 1000

    @property
    def played_ms(self) -> float:
        """Audio that has "played" to the caller (received, minus cleared, minus still buffered)."""
        return max(0.0, self.received_ms - self.cleared_ms - self.buffered_ms)

    # ------------------------------------------------------------------ internals

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("not connected")
        return self._loop

    def _require_open(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("not connected")
        if self._closed.is_set() or self._hanging_up:
            raise CallEnded("the call has ended")
        return self._ws

    async def _wait_change(self, deadline: float) -> None:
        self._changed.clear()
        try:
            async with asyncio.timeout_at(deadline):
                await self._changed.wait()
        except TimeoutError:
            pass

    def _notify(self) -> None:
        self._changed.set()

    async def _send_event(self, event: str, body: dict[str, Any]) -> None:
        """Send a sequenced event; sequence numbers are assigned in send order."""
        ws = self._ws
        assert ws is not None
        async with self._send_lock:
            self._seq += 1
            message = {"event": event, "sequenceNumber": str(self._seq), "streamSid": self.stream_sid, event: body}
            await ws.send(json.dumps(message))

    async def _queue(self, audio: bytes) -> None:
        self._require_open()
        if not audio:
            return
        done: asyncio.Future[None] = self._require_loop().create_future()
        remainder = len(audio) % FRAME_BYTES
        if remainder:
            audio = bytes(audio) + mulaw.SILENCE * (FRAME_BYTES - remainder)
        self._segments.append(_Segment(bytes(audio), done))
        await done

    def _next_frame(self) -> tuple[bytes, _Segment | None]:
        if not self._segments:
            return SILENCE_FRAME, None
        seg = self._segments[0]  # still sent if its waiter was cancelled
        chunk = seg.audio[seg.pos : seg.pos + FRAME_BYTES]
        seg.pos += FRAME_BYTES
        if seg.pos >= len(seg.audio):
            self._segments.popleft()
            return chunk, seg
        return chunk, None

    async def _media_sender(self) -> None:
        loop = self._require_loop()
        assert self.started_at is not None
        t0 = self.started_at
        frame = 0
        try:
            while True:
                delay = t0 + frame * FRAME_S - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                payload, finished = self._next_frame()
                await self._send_event(
                    "media",
                    {
                        "track": "inbound",
                        "chunk": str(frame + 1),
                        "timestamp": str(frame * mulaw.FRAME_MS),
                        "payload": base64.b64encode(payload).decode("ascii"),
                    },
                )
                self.frames_sent += 1
                self.sent_frame_times.append(loop.time())
                frame += 1
                if finished is not None and not finished.done.done():
                    finished.done.set_result(None)
        except ConnectionClosed:
            pass  # the reader notices the close and records it

    async def _mark_player(self) -> None:
        loop = self._require_loop()
        try:
            while True:
                if not self._pending_marks:
                    self._mark_wakeup.clear()
                    await self._mark_wakeup.wait()
                    continue
                record = self._pending_marks[0]
                if record.due_at > loop.time():
                    self._mark_wakeup.clear()
                    try:
                        async with asyncio.timeout_at(record.due_at):
                            await self._mark_wakeup.wait()
                    except TimeoutError:
                        pass
                    continue
                self._pending_marks.popleft()
                await self._send_event("mark", {"name": record.name})
                record.echoed_at = loop.time()
                self.marks_echoed.append(record.name)
                self._notify()
        except ConnectionClosed:
            pass  # the reader notices the close and records it

    async def _reader(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async for raw in ws:
                self._handle(raw)
        except ConnectionClosed:
            pass
        finally:
            # close_code is only known once the TCP connection is gone
            await asyncio.wait([asyncio.ensure_future(ws.wait_closed())], timeout=3.0)
            self._mark_closed()

    def _problem(self, text: str) -> None:
        self.protocol_errors.append(text)

    def _handle(self, raw: str | bytes) -> None:
        loop = self._require_loop()
        now = loop.time()
        if isinstance(raw, bytes):
            self._problem(f"binary frame of {len(raw)} bytes (Twilio expects JSON text)")
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            self._problem(f"not JSON: {raw[:200]!r}")
            return
        if not isinstance(msg, dict):
            self._problem(f"not a JSON object: {raw[:200]!r}")
            return
        event = msg.get("event")
        if event in ("media", "mark", "clear") and msg.get("streamSid") != self.stream_sid:
            self._problem(f"{event}: streamSid {msg.get('streamSid')!r} is not {self.stream_sid!r}")
            self.messages.append(msg)
            self._notify()
            return
        if event == "media":
            self._on_media(msg, now)
        elif event == "mark":
            self._on_mark(msg, now)
        elif event == "clear":
            self._on_clear(now)
        else:
            self._problem(f"unknown event {event!r}")
            self.messages.append(msg)
        self._notify()

    def _on_media(self, msg: dict[str, Any], now: float) -> None:
        media = msg.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            self._problem("media without media.payload string")
            self.messages.append(msg)
            return
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            self._problem(f"media payload is not base64: {payload[:60]!r}")
            self.messages.append(msg)
            return
        self.media_received_at.append(now)
        if not audio:
            return
        if self.first_audio_at is None:
            self.first_audio_at = now
        self.last_audio_at = now
        self._bot_audio += audio
        self._play_end = max(self._play_end, now) + len(audio) / BYTES_PER_S

    def _on_mark(self, msg: dict[str, Any], now: float) -> None:
        mark = msg.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str):
            self._problem("mark without mark.name string")
            self.messages.append(msg)
            return
        record = MarkRecord(name=name, received_at=now, due_at=max(self._play_end, now))
        self.mark_log.append(record)
        self._pending_marks.append(record)
        self._mark_wakeup.set()

    def _on_clear(self, now: float) -> None:
        self.clears += 1
        self.clear_times.append(now)
        unplayed = max(0.0, self._play_end - now)
        self.cleared_ms += unplayed * 1000
        self._play_end = now
        for record in self._pending_marks:
            record.due_at = now
            record.cleared = True
        self._mark_wakeup.set()

    def _mark_closed(self) -> None:
        if self._closed.is_set():
            return
        if self._ws is not None:
            self.close_code = self._ws.close_code
            self.close_reason = self._ws.close_reason
        if not self._hanging_up:
            self.closed_by_server = True
        self._closed.set()
        current = asyncio.current_task()
        for task in (self._sender_task, self._marks_task):
            if task is not None and task is not current:
                task.cancel()
        while self._segments:
            seg = self._segments.popleft()
            if not seg.done.done():
                seg.done.set_exception(CallEnded("the call ended before this audio was sent"))
        self._notify()
