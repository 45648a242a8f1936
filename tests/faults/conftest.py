"""Shared kit of the fault-injection suite: one live call over real sockets, with fakes that misbehave on cue.

``fault_call(model, caller, ...)`` runs the real bot server on loopback, a
fake OpenAI Realtime server, a fake Twilio (TwiML interpreter + Media Streams
client) and a respx mock of Twilio's REST API (and of any enrichment API the
test mocks), and returns a :class:`FaultCall` with everything a test asserts
on: what Twilio saw, the outcome records, the REST attempts with their times,
the captured log, the final metrics and the leak report.

Leaks are checked for every call, after the call is over and everything is
torn down: no asyncio task left over (compared with the tasks before), no
TCP connection left open on the fake model's port or the server's port (from
``/proc/net/tcp``), and the server's ``voice_agent_calls_active`` gauge back
at 0 once Twilio's final status callback arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx
from loguru import logger
from twilio.request_validator import RequestValidator

from agent.core.call import Outcome
from agent.live.runner import FAILOVER_MESSAGE
from agent.server.app import create_app
from agent.core.sources import FACT_CACHE
from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import ACCOUNT, TOKEN, TWILIO_API, live_settings
from agent.testing.server import running_server
from agent.testing.twiml_interpreter import TwilioCallRecord, TwimlInterpreter, call_update
from tests.conftest import HOTLINE
from tests.test_live_realtime import QUICK_FLOW

REST_URL = f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Calls/"
HUNG_UP = "<Response/>"  # what the stream handler hands the interpreter when the caller hung up: the call is over
FALLBACK_LINE = FAILOVER_MESSAGE
ON_CALL = "+4930901820"
QUICK_ON_CALL = "+4930555000"


def quick_flow(tmp_path: Path) -> Path:
    """A flow whose silence timers are short (a one-second re-prompt)."""
    path = tmp_path / "quick.yaml"
    path.write_text(QUICK_FLOW)
    return path


@dataclass
class RestAttempt:
    at: float  # loop time
    form: dict[str, str]


@dataclass
class FaultCall:
    """Everything one faulty call left behind."""

    fake: FakeRealtimeServer
    record: TwilioCallRecord | None = None
    call_sid: str = ""
    media: FakeTwilioCall | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    rest_attempts: list[RestAttempt] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)
    redirected: asyncio.Event = field(default_factory=asyncio.Event)
    hung_up: bool = False
    stream_closed_by_server: bool = False
    logs: list[str] = field(default_factory=list)
    metrics: str = ""
    leaked_tasks: list[str] = field(default_factory=list)
    open_connections: dict[str, int] = field(default_factory=dict)
    base: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def said(self) -> str:
        return " ".join(self.record.said) if self.record else ""

    @property
    def log(self) -> str:
        return "\n".join(self.logs)

    @property
    def outcome(self) -> Outcome:
        assert len(self.outcomes) == 1, f"expected one outcome record, got {self.outcomes}"
        return self.outcomes[0]

    def assert_clean(self) -> None:
        """No task, socket or active-call count left behind."""
        assert not self.leaked_tasks, f"tasks leaked: {self.leaked_tasks}"
        assert not any(self.open_connections.values()), f"connections left open: {self.open_connections}"
        assert "voice_agent_calls_active 0.0" in self.metrics, self.metrics
        assert self.media is None or self.media.closed, "the media stream is still open"
        assert all(s.closed for s in self.fake.sessions), "a realtime model session is still open"

    def assert_complete_outcome(self, end_reason: str) -> Outcome:
        outcome = self.outcome
        assert outcome.call_id == self.call_sid
        assert outcome.end_reason == end_reason, outcome
        assert "agent" in outcome.nodes, outcome.nodes
        assert "call" in outcome.timings_ms and outcome.timings_ms["call"] > 0, outcome.timings_ms
        return outcome


# -- TCP connections, from the kernel's table -----------------------------------------------------------
_OPEN_STATES = {"01", "08"}  # ESTABLISHED, CLOSE_WAIT (the peer closed, we did not)


def open_connections(port: int) -> int:
    """TCP connections (either end) on 127.0.0.1:port that are still open."""
    count = 0
    with contextlib.suppress(OSError), open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            parts = line.split()
            local, remote, state = parts[1], parts[2], parts[3]
            if state in _OPEN_STATES and port in (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)):
                count += 1
    return count


async def settle(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# -- the call -------------------------------------------------------------------------------------------
Caller = Callable[[FakeTwilioCall, FaultCall], Awaitable[None]]
RestHandler = Callable[[httpx.Request, FaultCall], Awaitable[httpx.Response] | httpx.Response]


def rest_ok(request: httpx.Request, fc: FaultCall) -> httpx.Response:
    """Twilio accepts the call update."""
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    status, body, target = call_update(form, fc.call_sid)
    if target is not None:
        fc.redirects.append(target)
        fc.redirected.set()
    return httpx.Response(status, json=body)


async def run_fault_call(
    model: FakeModel,
    caller: Caller,
    *,
    flow: Path = HOTLINE,
    fault: Callable[[FakeRealtimeServer], None] | None = None,
    rest: RestHandler = rest_ok,
    mock: Callable[[respx.MockRouter], None] | None = None,
    gather_turns: tuple[str, ...] | list[str] = (),
    settings: dict[str, Any] | None = None,
    stream_timeout: float = 20.0,
) -> FaultCall:
    """One call through the real server; returns the :class:`FaultCall` (leak report included)."""
    before = set(asyncio.all_tasks())
    model.ms_per_word = 40
    FACT_CACHE.clear()
    fake = FakeRealtimeServer(model, reply_delay_ms=100)
    fc = FaultCall(fake=fake)
    sink = logger.add(lambda m: fc.logs.append(str(m).rstrip()), level="INFO", filter=lambda r: not r["name"].startswith("pipecat"))
    loop = asyncio.get_running_loop()

    async def rest_side_effect(request: httpx.Request) -> httpx.Response:
        fc.rest_attempts.append(RestAttempt(loop.time(), {k: v[0] for k, v in parse_qs(request.content.decode()).items()}))
        result = rest(request, fc)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    async def on_stream(url: str, params: dict[str, str]) -> str | None:
        async with FakeTwilioCall(url, auth_token=TOKEN, custom_parameters=params, call_sid=fc.call_sid) as call:
            fc.media = call
            talk = asyncio.create_task(caller(call, fc), name="fault-caller")
            redirected = asyncio.create_task(fc.redirected.wait())
            closed = asyncio.create_task(call.wait_closed(timeout=stream_timeout))
            await asyncio.wait({talk, redirected, closed}, timeout=stream_timeout, return_when=asyncio.FIRST_COMPLETED)
            caller_failed = talk.done() and not talk.cancelled() and talk.exception() is not None
            if not (fc.hung_up or caller_failed or redirected.done() or closed.done()):
                # The caller's script is over: keep listening until the call moves on.
                await asyncio.wait({redirected, closed}, timeout=stream_timeout, return_when=asyncio.FIRST_COMPLETED)
            for task in (talk, redirected, closed):
                task.cancel()
            await asyncio.gather(talk, redirected, closed, return_exceptions=True)
            if talk.done() and not talk.cancelled() and talk.exception() is not None:
                raise talk.exception()  # type: ignore[misc]
            fc.stream_closed_by_server = call.closed_by_server
        if fc.hung_up:
            return HUNG_UP
        if fc.redirects:
            return fc.redirects[-1]
        assert fc.stream_closed_by_server, "the stream neither moved on nor was closed"
        return None  # the server closed the stream: Twilio runs the verb after <Connect>

    try:
        async with fake, contextlib.AsyncExitStack() as stack:
            if fault:
                fault(fake)
            router = stack.enter_context(respx.mock(assert_all_called=False))
            router.route(host="127.0.0.1").pass_through()
            router.post(url__startswith=REST_URL).mock(side_effect=rest_side_effect)
            if mock:
                mock(router)

            def make_app(base: str):
                app = create_app(live_settings(base, fake.url, flow, **{"local_vad": False, "rest_retries": 3, **(settings or {})}))
                live = app.state.live
                counted = live.on_outcome

                def on_outcome(outcome: Outcome) -> None:
                    fc.outcomes.append(outcome)
                    if counted is not None:
                        counted(outcome)

                live.on_outcome = on_outcome
                return app

            async with running_server(make_app) as (base, _app):
                fc.base = base
                port = int(base.rsplit(":", 1)[1])
                async with httpx.AsyncClient(base_url=base) as client:
                    twilio = TwimlInterpreter(client, base, auth_token=TOKEN, from_number="+4915112345678", on_stream=on_stream)
                    fc.call_sid = twilio.call_sid
                    fc.record = await asyncio.wait_for(twilio.call(list(gather_turns)), 45)
                    # The call is over: Twilio's final status callback.
                    form = {"CallSid": fc.call_sid, "CallStatus": "completed", "AccountSid": ACCOUNT}
                    url = f"{base}/twilio/status"
                    signature = RequestValidator(TOKEN).compute_signature(url, form)
                    await client.post("/twilio/status", data=form, headers={"X-Twilio-Signature": signature})
                # A hang-up's outcome is written after the socket closed.
                await settle(lambda: bool(fc.outcomes), timeout=3.0 if fc.hung_up else 0.5)
                await settle(lambda: open_connections(fake.port) == 0 and open_connections(port) == 0)
                fc.open_connections = {"fake model": open_connections(fake.port), "server": open_connections(port)}
                async with httpx.AsyncClient(base_url=base) as client:
                    fc.metrics = (await client.get("/metrics")).text
    finally:
        logger.remove(sink)
    current = asyncio.current_task()

    def leftover() -> list[asyncio.Task]:
        return [t for t in asyncio.all_tasks() if t not in before and t is not current and not t.done()]

    await settle(lambda: not leftover(), timeout=3.0)
    fc.leaked_tasks = [f"{t.get_name()}: {t.get_coro()!r}" for t in leftover()]
    return fc


def hang_up(fc: FaultCall, call: FakeTwilioCall) -> Awaitable[None]:
    """The caller puts the phone down (Twilio sends ``stop`` and closes the stream)."""
    fc.hung_up = True
    return call.hang_up()
