"""Stateless scale-out: two server processes behind a load balancer with no sticky sessions.

The call's voice webhook and media stream land on one process; after the
agent decides, Twilio (a fake REST API plus the TwiML interpreter) sends
every later webhook — the dial, the engineer's whisper — to the other. The
call completes because everything a call carries rides in its sealed token.
The replicas share Redis (fakeredis's TCP server, the real protocol): a
replayed webhook is refused by the replica that did not serve the original,
and a caller dialling in a loop meets one limit, not one per replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx
from fakeredis import TcpFakeServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import ACCOUNT, TOKEN, speak
from agent.testing.deterministic_brain import DeterministicBrain
from agent.testing.server import running_server
from agent.testing.twiml_interpreter import TwimlInterpreter, call_update
from tests.conftest import HOTLINE, around_the_clock_hotline

PUBLIC = "https://voice.example.test"  # what Twilio sees: the load balancer
CALLER = "+4915112345678"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def shared_redis():
    """A Redis server on loopback (fakeredis over TCP); yields its URL."""
    server = TcpFakeServer(("127.0.0.1", free_port()), server_type="redis")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"redis://{host}:{port}/0"
    finally:
        server.shutdown()
        server.server_close()


async def voice_webhook(base: str, call_sid: str, caller: str) -> httpx.Response:
    """A signed ``/twilio/voice`` for a new call, sent straight to one replica."""
    form = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": caller, "To": "+15555550199", "CallStatus": "ringing"}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/voice", form)
    async with httpx.AsyncClient(base_url=base) as client:
        return await client.post("/twilio/voice", data=form, headers={"X-Twilio-Signature": signature})


@contextlib.contextmanager
def server_process(port: int, env: dict[str, str]):
    """``voice-agent serve`` in its own process."""
    command = [sys.executable, "-c", "from agent.cli.main import main; main()", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"server exited: {process.stderr.read().decode()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise AssertionError("server did not start")


class FirstThenSecond(httpx.AsyncBaseTransport):
    """A load balancer: the call's first webhook goes to replica A, every later one to replica B."""

    def __init__(self, first: str, second: str) -> None:
        self.bases = [first, second]
        self.served: list[tuple[str, str]] = []  # (replica, path)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        replica = self.bases[0] if not self.served else self.bases[1]
        self.served.append((replica, request.url.path))
        target = urlsplit(replica)
        request.url = request.url.copy_with(scheme=target.scheme, host=target.hostname, port=target.port)
        return await self._inner.handle_async_request(request)


def test_media_on_one_replica_the_rest_on_the_other_and_either_catches_replays_and_loops(tmp_path):
    redirects: list[str] = []
    redirected = asyncio.Event()

    async def update_call(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        status, body, target = call_update(form, request.path_params["sid"])
        if target is not None:
            redirects.append(target)
            redirected.set()
        return JSONResponse(body, status_code=status)

    twilio_rest = Starlette(routes=[Route(f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{{sid}}.json", update_call, methods=["POST"])])
    model = FakeModel(DeterministicBrain(HOTLINE, caller_number=CALLER))
    ports = [free_port(), free_port()]
    replicas = [f"http://127.0.0.1:{p}" for p in ports]

    async def scenario():
        with shared_redis() as redis_url:
            return await call_and_replays(redis_url)

    async def call_and_replays(redis_url: str):
        async with FakeRealtimeServer(model) as fake, running_server(lambda base: twilio_rest) as (rest_base, _):
            env = {
                "VOICE_AGENT_FLOW": str(around_the_clock_hotline(tmp_path)),  # real clock in the replicas
                "VOICE_AGENT_PUBLIC_BASE_URL": PUBLIC,
                "VOICE_AGENT_TWILIO_AUTH_TOKEN": TOKEN, "VOICE_AGENT_TWILIO_ACCOUNT_SID": ACCOUNT,
                "VOICE_AGENT_TWILIO_API_BASE_URL": rest_base, "VOICE_AGENT_OPENAI_API_KEY": "sk-test",
                "VOICE_AGENT_OPENAI_REALTIME_URL": fake.url, "VOICE_AGENT_ENGINE": "openai",
                "VOICE_AGENT_TOKEN_SECRET": "shared-by-every-replica", "VOICE_AGENT_LOCAL_VAD": "false",
                "VOICE_AGENT_STATE_URL": redis_url, "VOICE_AGENT_RATE_LIMIT_CALLS": "2",
            }
            with server_process(ports[0], env) as a, server_process(ports[1], env) as b:
                await asyncio.gather(wait_healthy(replicas[0], a), wait_healthy(replicas[1], b))
                balancer = FirstThenSecond(*replicas)
                media_on: list[str] = []

                async def on_stream(url: str, params: dict[str, str]) -> str | None:
                    ws_url = replicas[0].replace("http://", "ws://") + urlsplit(url).path  # the stream stays on replica A
                    media_on.append(ws_url)
                    async with FakeTwilioCall(ws_url, auth_token=TOKEN, public_url=url, custom_parameters=params,
                                              call_sid=twilio.call_sid, from_number=CALLER) as call:
                        await call.wait_for_audio(ms=300, timeout=15)
                        await call.wait_until_quiet(ms=400, timeout=15)
                        await speak(call, fake, "I want to talk to a person please", ms=900)
                        await asyncio.wait_for(redirected.wait(), 20)
                    return redirects[-1]

                async with httpx.AsyncClient(transport=balancer, base_url=PUBLIC) as client:
                    twilio = TwimlInterpreter(client, PUBLIC, auth_token=TOKEN, from_number=CALLER, on_stream=on_stream)
                    record = await asyncio.wait_for(twilio.call([]), 60)
                # Replica A served the call's /voice: the same webhook replayed to replica B is refused there.
                replay = await voice_webhook(replicas[1], twilio.call_sid, CALLER)
                # The caller's second call (on B) is allowed, the third (on A) meets the limit of 2 both share.
                second = await voice_webhook(replicas[1], "CA" + "2" * 32, CALLER)
                third = await voice_webhook(replicas[0], "CA" + "3" * 32, CALLER)
                return record, balancer.served, media_on, (replay, second, third)

    record, served, media_on, (replay, second, third) = asyncio.run(scenario())
    assert replay.status_code == 403, "a replay is caught by the replica that did not serve the original"
    assert second.status_code == 200 and "<Reject" not in second.text
    assert "<Reject" in third.text and 'reason="busy"' in third.text, "one rate limit across replicas"
    assert served[0] == (replicas[0], "/twilio/voice")
    assert media_on and media_on[0].startswith(replicas[0].replace("http://", "ws://"))
    later = served[1:]
    assert later and all(replica == replicas[1] for replica, _ in later)
    assert {"/twilio/whisper", "/twilio/continue"} <= {path for _, path in later}
    assert all(status == 200 for status in record.statuses), record.statuses
    assert record.dialled == ["+4930901820"]  # replica B opened replica A's token and dialled the engineer
    assert record.whispers and "called the hotline" in record.whispers[0]


class UntilDown(httpx.AsyncBaseTransport):
    """A load balancer with health checks: replica A while it answers, replica B once A is gone."""

    def __init__(self, first: str, second: str) -> None:
        self.bases = [first, second]
        self.served: list[tuple[str, str]] = []  # (replica, path)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for replica in self.bases:
            target = urlsplit(replica)
            request.url = request.url.copy_with(scheme=target.scheme, host=target.hostname, port=target.port)
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.ConnectError:
                continue
            self.served.append((replica, request.url.path))
            return response
        raise httpx.ConnectError("no replica answers")


def test_a_replica_killed_mid_conversation_loses_nothing_the_caller_said(tmp_path):
    """SIGKILL the process holding the media stream: Twilio's <Redirect> reaches the other replica, which goes on from the last turn."""
    from agent.testing.fake_realtime import Say, ToolCall

    model = FakeModel([
        Say("Hello, I'm ACME's on-call assistant. What's going on?"),
        ToolCall("record_details", {"caller_name": "Jane Doe", "incident": "the payments API returns errors", "affected_services": ["Payments"]}),
        Say("Thanks Jane, I've noted that."),
    ])
    ports = [free_port(), free_port()]
    replicas = [f"http://127.0.0.1:{p}" for p in ports]

    async def scenario():
        with shared_redis() as redis_url:
            async with FakeRealtimeServer(model) as fake:
                env = {
                    "VOICE_AGENT_FLOW": str(around_the_clock_hotline(tmp_path)),  # real clock in the replicas
                    "VOICE_AGENT_PUBLIC_BASE_URL": PUBLIC,
                    "VOICE_AGENT_TWILIO_AUTH_TOKEN": TOKEN, "VOICE_AGENT_TWILIO_ACCOUNT_SID": ACCOUNT,
                    "VOICE_AGENT_TWILIO_API_BASE_URL": "http://127.0.0.1:9", "VOICE_AGENT_OPENAI_API_KEY": "sk-test",
                    "VOICE_AGENT_OPENAI_REALTIME_URL": fake.url, "VOICE_AGENT_ENGINE": "openai",
                    "VOICE_AGENT_TOKEN_SECRET": "shared-by-every-replica", "VOICE_AGENT_LOCAL_VAD": "false",
                    "VOICE_AGENT_STATE_URL": redis_url,
                }
                with server_process(ports[0], env) as a, server_process(ports[1], env) as b:
                    await asyncio.gather(wait_healthy(replicas[0], a), wait_healthy(replicas[1], b))
                    balancer = UntilDown(*replicas)

                    async def on_stream(url: str, params: dict[str, str]) -> str | None:
                        ws_url = replicas[0].replace("http://", "ws://") + urlsplit(url).path
                        async with FakeTwilioCall(ws_url, auth_token=TOKEN, public_url=url, custom_parameters=params,
                                                  call_sid=twilio.call_sid, from_number=CALLER) as call:
                            await call.wait_for_audio(ms=300, timeout=15)
                            await call.wait_until_quiet(ms=400, timeout=15)
                            await speak(call, fake, "Jane Doe here, the payments API returns errors", ms=900)
                            await fake.wait_for("conversation.item.create", count=1, timeout=15)  # the tool's result
                            await call.wait_for_audio(ms=200, timeout=15, new=True)  # "Thanks Jane": a turn later
                            await asyncio.sleep(0.5)
                            a.kill()  # SIGKILL: no shutdown, no goodbye
                            a.wait(10)
                            await call.wait_closed(timeout=10)
                        return None  # the stream is gone without a redirect: Twilio runs the verb after <Connect>

                    async with httpx.AsyncClient(transport=balancer, base_url=PUBLIC) as client:
                        twilio = TwimlInterpreter(client, PUBLIC, auth_token=TOKEN, from_number=CALLER, on_stream=on_stream)
                        record = await asyncio.wait_for(twilio.call(["yes", "no", "no"]), 90)
                    return record, balancer.served

    record, served = asyncio.run(scenario())
    said = " ".join(record.said)
    assert served[0] == (replicas[0], "/twilio/voice")
    assert [r for r, path in served[1:]] and all(r == replicas[1] for r, _ in served[1:]), served
    assert all(status == 200 for status in record.statuses), record.statuses
    assert "Sorry, I'm having a technical problem. Let's continue." in said
    assert "May I have your name" not in said and "what is going on" not in said.lower(), "not asked again: " + said
    assert "Can we reach you at +49 1511 2345678?" in said, "only what is still missing is asked"
    assert record.dialled == ["+4930901820"]
    assert "Jane Doe called the hotline" in record.whispers[0], record.whispers
