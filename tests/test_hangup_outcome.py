"""Every call ends with exactly one outcome record, even when only Twilio's status callback says it ended.

A caller who hangs up during a ``<Gather>`` (the deterministic mode) or a
``<Say>`` is reported by no other webhook: the status callback carries no
token, so the server remembers each waiting call's latest sealed state
(memory, or the replicas' shared Redis) and writes ``caller_hung_up`` from it.
Whoever ends a call first — the flow, a media stream that lost its caller,
the status callback — writes its outcome; the others do not.
"""

from __future__ import annotations

import asyncio

import fakeredis
import httpx

from agent.core.call import Outcome
from agent.server.app import create_app
from agent.core.shared_state import RedisState
from agent.testing.twiml_interpreter import Spoken, TwimlInterpreter
from tests.test_server_gather import PUBLIC, TOKEN, settings

CALLER = "+4915112345678"


def call_with_status(turns, app=None, *, answer_dials=True):
    """One gather-mode call through the real app; Twilio posts the status callback when it ends."""
    app = app or create_app(settings())
    outcomes: list[Outcome] = []
    counted = app.state.live.on_outcome

    def on_outcome(outcome: Outcome) -> None:
        outcomes.append(outcome)
        counted(outcome)

    app.state.live.on_outcome = on_outcome

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
            twilio = TwimlInterpreter(client, PUBLIC, auth_token=TOKEN, from_number=CALLER, answer_dials=answer_dials,
                                      status_callback="/twilio/status")
            record = await twilio.call(turns)
            metrics = (await client.get("/metrics")).text
            return record, metrics

    record, metrics = asyncio.run(go())
    return record, outcomes, metrics


def test_a_caller_who_hangs_up_during_a_gather_gets_one_outcome_with_what_was_gathered():
    record, outcomes, metrics = call_with_status(["Hi, this is Jane Doe, our users can't log in at all"])
    assert record.hung_up and record.statuses[-1] == 204
    [outcome] = outcomes
    assert outcome.end_reason == "caller_hung_up"
    assert outcome.fields.get("caller_name") == "Jane Doe", outcome.fields
    assert outcome.nodes and outcome.timings_ms.get("call", 0) > 0
    assert 'voice_agent_flow_outcomes_total{outcome="caller_hung_up"} 1.0' in metrics


def test_a_call_the_flow_ended_is_not_counted_again_by_the_status_callback():
    record, outcomes, metrics = call_with_status(["the checkout is broken, customers can't pay", "no that's all"])
    assert record.hung_up and record.dialled == []
    assert [o.end_reason for o in outcomes] != [] and len(outcomes) == 1
    assert outcomes[0].end_reason != "caller_hung_up"
    assert "caller_hung_up" not in metrics


def test_a_dialled_call_ends_once():
    record, outcomes, _ = call_with_status([
        "Hi, this is Jane Doe from Initech. Our users can't log in at all, the login page just times out.",
        "yes", "jane dot doe at initech dot com", "yes", Spoken(digits="2093155"),
    ])
    assert record.dialled == ["+4930901820"]
    assert len(outcomes) == 1, [o.end_reason for o in outcomes]


def test_the_status_callback_on_another_replica_writes_the_outcome_from_shared_state():
    """Replica A serves the call; the status callback reaches replica B, which finds the call in Redis."""
    server = fakeredis.FakeServer()
    shared = {"token_secret": "shared-by-every-replica"}
    replica_a = create_app(settings(**shared))
    replica_b = create_app(settings(**shared))
    for app in (replica_a, replica_b):  # what VOICE_AGENT_STATE_URL gives each replica, on one fake server
        app.state.live.shared = RedisState(fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    outcomes: list[tuple[str, Outcome]] = []
    for name, app in (("a", replica_a), ("b", replica_b)):
        app.state.live.on_outcome = lambda outcome, name=name: outcomes.append((name, outcome))

    class Balancer(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.a, self.b = httpx.ASGITransport(app=replica_a), httpx.ASGITransport(app=replica_b)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            replica = self.b if request.url.path == "/twilio/status" else self.a
            return await replica.handle_async_request(request)

    async def go():
        async with httpx.AsyncClient(transport=Balancer(), base_url=PUBLIC) as client:
            twilio = TwimlInterpreter(client, PUBLIC, auth_token=TOKEN, from_number=CALLER, status_callback="/twilio/status")
            return await twilio.call(["Hi, this is Jane Doe, our users can't log in at all"])

    record = asyncio.run(go())
    assert record.hung_up
    assert [(name, o.end_reason) for name, o in outcomes] == [("b", "caller_hung_up")]
    assert outcomes[0][1].fields.get("caller_name") == "Jane Doe"


def test_nothing_about_the_call_is_left_once_it_ended():
    app = create_app(settings())
    call_with_status(["Hi, this is Jane Doe, our users can't log in at all"], app)
    remembered = " ".join(app.state.live.shared.keys())
    assert "open:" not in remembered, "the sealed state of an ended call is dropped"
