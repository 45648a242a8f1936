"""Fuzz: Twilio webhook form bodies into the bot server (POST /twilio/voice, /continue, /whisper, /status).

A validly signed request with Twilio's identifiers well formed, whatever its
other fields hold, is answered with TwiML (or 204 for status callbacks), never
a 500 and never the rescue TwiML (which means a handler crashed). A signed
request whose ``CallSid`` or ``AccountSid`` is missing or malformed is a 400.
A request with a missing or wrong signature, a forged token or a body that is
not a form is refused with a 4xx.
"""

from __future__ import annotations

import asyncio
import itertools
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import httpx
import respx
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from agent.flow.models import (
    AiAgentNode,
    IvrMenuNode,
    PinCodeNode,
    RouteCallNode,
    VoicemailNode,
)
from agent.core.call import Call
from agent.server.app import create_app
from agent.server.router import MAX_FIELD_LENGTH
from agent.server.security import ACCOUNT_SID, CALL_SID
from tests.fuzz.strategies import cases, nasty_text
from tests.test_server_gather import PUBLIC, TOKEN, settings

APP = create_app(settings())
LIVE = APP.state.live
NODE_IDS = sorted(LIVE.flow.nodes)
VALIDATOR = RequestValidator(TOKEN)
RESCUE = "Sorry, something went wrong"
_loop = asyncio.new_event_loop()
_sids = itertools.count()
_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url=PUBLIC)

form_text = st.one_of(
    nasty_text.map(lambda t: t.replace("\x00", "")),
    st.sampled_from(["", "1", "#", "*", "123#", "0" * 40, "completed", "answered", "busy", "no-answer", "failed", "true",
                     "false", "-5", "99999999999999999999", "https://api.twilio.com/rec.wav", "+4915112345678",
                     "+15005550006", "anonymous", "x" * (MAX_FIELD_LENGTH + 1)]),
)
TWILIO_FIELDS = ["CallSid", "From", "To", "Caller", "Called", "CallStatus", "Digits", "SpeechResult", "Confidence",
                 "RecordingUrl", "RecordingDuration", "DialCallStatus", "DialBridged", "AccountSid", "Direction"]
forms = st.dictionaries(st.one_of(st.sampled_from(TWILIO_FIELDS), st.text(min_size=1, max_size=12)), form_text, max_size=10)
EVENT_OF = {IvrMenuNode: "ivr", PinCodeNode: "pin", VoicemailNode: "vm", RouteCallNode: "dial", AiAgentNode: "gather"}
ACCOUNT = "AC" + "1" * 32


def from_twilio(form: dict[str, str], call_sid: str) -> dict[str, str]:
    """``form`` with Twilio's identifiers as Twilio writes them (an AccountSid only where the fuzzer drew one)."""
    return {**form, "CallSid": call_sid} | ({"AccountSid": ACCOUNT} if "AccountSid" in form else {})


def states(call_sid: str) -> st.SearchStrategy[Call]:
    return st.builds(
        Call, call_id=st.just(call_sid), node=st.one_of(st.sampled_from(NODE_IDS), st.text(max_size=8)),
        caller_number=st.one_of(st.none(), form_text), attempt=st.integers(0, 5),
        fields=st.dictionaries(st.sampled_from(["incident", "caller_name", "email", "contact_number", "x"]), form_text, max_size=3),
        intent=st.one_of(st.none(), st.sampled_from(["incident", "system_outage", "talk_to_human", "nope"])),
        nodes=st.lists(st.sampled_from(NODE_IDS), max_size=4),
    )


def post(path: str, form: dict[str, str], *, sign: bool = True, query: dict[str, str] | None = None,
         headers: dict[str, str] | None = None, content: bytes | None = None) -> httpx.Response:
    url = path + ("?" + urlencode(query) if query else "")
    hdrs = dict(headers or {})
    if sign:
        hdrs["X-Twilio-Signature"] = VALIDATOR.compute_signature(PUBLIC + url, form)
    if content is None:
        hdrs.setdefault("content-type", "application/x-www-form-urlencoded")
        content = urlencode(form).encode()
    with respx.mock(assert_all_called=False) as mock:  # no request leaves the test
        mock.route(host="testserver").pass_through()
        return _loop.run_until_complete(_client.post(url, content=content, headers=hdrs))


def assert_twiml(response: httpx.Response, path: str) -> None:
    assert response.status_code < 500, (path, response.status_code, response.text[:300])
    if response.status_code == 200:
        root = ET.fromstring(response.text)
        assert root.tag == "Response"
        assert RESCUE not in response.text, (path, "a handler crashed: rescue TwiML")


@cases(500)
@given(forms, st.sampled_from(["/twilio/voice", "/twilio/status"]))
def test_signed_voice_and_status_webhooks(form: dict[str, str], path: str) -> None:
    form = from_twilio(form, f"CA{next(_sids):032d}")  # each CallSid is served once (a repeat is a replay: 403)
    response = post(path, form)
    if any(len(v) > MAX_FIELD_LENGTH for v in form.values()):
        assert response.status_code < 500  # refused (the truncated form no longer matches its signature) or served
        return
    assert response.status_code in (200, 204), (response.status_code, response.text[:300])
    assert_twiml(response, path)


def event_for(node_id: str) -> str:
    """The continuation event the server itself puts in the action URLs of this node."""
    node = LIVE.flow.nodes.get(node_id)
    for kind, event in EVENT_OF.items():
        if isinstance(node, kind):
            return event
    return ""  # nodes that never wait for Twilio get no action URL


def continue_(state: Call, form: dict[str, str], path: str, event: str) -> httpx.Response:
    form = from_twilio({k: v[:MAX_FIELD_LENGTH] for k, v in form.items()}, state.call_id)
    return post(path, form, query={"t": LIVE.codec.seal(state), "e": event})


@cases(300)
@given(st.data())
def test_signed_continuations_with_genuine_tokens(data: st.DataObject) -> None:
    state = data.draw(states(data.draw(st.sampled_from(["CA" + "1" * 32, "CA" + "AbCdEf0123" * 3 + "00"]))))
    state = Call.model_validate(state.model_dump())  # control characters included: the runner cleans them
    node = LIVE.flow.nodes.get(state.node)
    path = data.draw(st.sampled_from(["/twilio/continue", "/twilio/whisper"]))
    if node is None or not event_for(state.node):
        path = "/twilio/whisper"  # unknown continuations: see the xfail test below
    response = continue_(state, data.draw(forms), path, event_for(state.node))
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert_twiml(response, path)



def test_an_unknown_continuation_is_answered_with_twiml() -> None:
    for node_id, event in (("alert", ""), ("agent", "nope"), ("nowhere", "gather")):
        assert_twiml(continue_(Call(call_id="CA" + "3" * 32, node=node_id), {}, "/twilio/continue", event), node_id)



def test_control_characters_in_fields_do_not_break_the_twiml() -> None:
    state = Call(call_id="CA" + "4" * 32, node="page_oncall", fields={"incident": "broken\x1b[0m", "caller_name": "J\x07"})
    assert_twiml(continue_(state, {}, "/twilio/whisper", ""), "whisper")



def test_a_continuation_event_for_another_node_type_is_not_a_crash() -> None:
    for node_id in NODE_IDS:
        for event in ("ivr", "pin", "vm", "dial", "gather"):
            state = Call(call_id="CA" + "2" * 32, node=node_id)
            assert_twiml(continue_(state, {"Digits": "1"}, "/twilio/continue", event), f"{node_id} {event}")


@cases(300)
@given(
    forms, st.sampled_from(["/twilio/voice", "/twilio/continue", "/twilio/whisper", "/twilio/status"]),
    st.sampled_from(["CallSid", "AccountSid"]), st.one_of(form_text, st.text(alphabet="CAaceg0123456789ABCDEF", max_size=36)),
)
def test_signed_requests_with_malformed_sids_are_a_400(form: dict[str, str], path: str, field: str, value: str) -> None:
    form = from_twilio({k: v[:MAX_FIELD_LENGTH] for k, v in form.items()}, f"CA{next(_sids):032d}")
    form[field] = value[:MAX_FIELD_LENGTH]
    pattern = CALL_SID if field == "CallSid" else ACCOUNT_SID
    if pattern.fullmatch(form[field]):
        return  # drawn well formed: served as any other
    token = LIVE.codec.seal(Call(call_id=form["CallSid"], node="agent"))
    response = post(path, form, query={"t": token, "e": "gather"} if path in ("/twilio/continue", "/twilio/whisper") else None)
    assert response.status_code == 400, (field, form[field], response.status_code)


@cases(300)
@given(
    forms, st.sampled_from(["/twilio/voice", "/twilio/continue", "/twilio/whisper", "/twilio/status"]),
    st.sampled_from(["none", "wrong", "other_url"]), st.one_of(st.none(), form_text),
)
def test_unsigned_or_forged_requests_are_refused(form: dict[str, str], path: str, how: str, token: str | None) -> None:
    headers = {}
    if how == "wrong":
        headers["X-Twilio-Signature"] = VALIDATOR.compute_signature(PUBLIC + "/elsewhere", form)
    elif how == "other_url":
        headers["X-Twilio-Signature"] = "A" * 28
    response = post(path, form, sign=False, headers=headers, query={"t": token} if token is not None else None)
    assert response.status_code == 403


@cases(300)
@given(forms, st.one_of(st.none(), form_text), st.sampled_from(["/twilio/continue", "/twilio/whisper"]))
def test_signed_requests_with_forged_tokens_are_refused(form: dict[str, str], token: str | None, path: str) -> None:
    form = from_twilio({k: v[:MAX_FIELD_LENGTH] for k, v in form.items()}, "CA" + "5" * 32)
    response = post(path, form, query={"t": token, "e": "gather"} if token is not None else None)
    assert response.status_code == 403


@cases(300)
@given(
    st.binary(max_size=2000), st.sampled_from(["/twilio/voice", "/twilio/continue", "/twilio/status"]),
    st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=x",
                     "application/json", "text/plain", ""]),
)
def test_bodies_that_are_not_forms(body: bytes, path: str, content_type: str) -> None:
    response = post(path, {}, sign=True, headers={"content-type": content_type}, content=body)
    assert response.status_code < 500, (response.status_code, response.text[:300])


def test_too_many_fields_or_a_huge_body_is_refused() -> None:
    many = {f"f{i}": "x" for i in range(500)}
    assert post("/twilio/voice", many).status_code in (400, 403, 413)
    huge = {"CallSid": "CA1", "From": "x" * 2_000_000}
    assert post("/twilio/voice", huge).status_code in (400, 403, 413)
