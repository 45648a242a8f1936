"""What agent/live/twilio_rest.py sends to Twilio's REST API, against Twilio's OpenAPI spec and documented limits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from agent.live.twilio_rest import TwilioRest, UpdateResult
from agent.core.settings import Settings
from agent.testing.settings import ACCOUNT, agent_settings
from tests.contracts.checker import RECORDED
from tests.contracts.twilio.rest import ContractViolation, check_request, contract
from tests.contracts.twilio.rest import twilio_rest_checked  # noqa: F401  (autouse: every TwilioRest request)
from tests.contracts.twiml import LIMITS

CALL = "CA" + "a" * 32
RECORDING = "RE" + "b" * 32
API = "https://api.twilio.com"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twilio"


def _settings(**overrides) -> Settings:
    return agent_settings(**{"twilio_auth_token": "tok", "twilio_api_base_url": API, "rest_retries": 0, **overrides})


def test_the_contract_is_twilios_spec_trimmed_to_what_we_call():
    spec = contract().raw
    assert "github:twilio/twilio-oai spec/json/twilio_api_v2010.json @ d50069b" in spec["info"]["x-trimmed-from"]
    assert {(op.method, op.template) for op in contract().operations} == {
        ("post", "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json"),
        ("get", "/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Recordings.json"),
        ("get", "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json"),
    }


def test_every_request_twilio_rest_sends_is_declared_by_the_spec():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/Recordings.json"):
            return httpx.Response(200, json=json.loads((FIXTURES / "call-recordings.json").read_text()))
        if request.url.path.endswith(".mp3"):
            return httpx.Response(200, content=b"ID3")
        return httpx.Response(200, json={"sid": CALL, "status": "in-progress"})

    async def go():
        with respx.mock(assert_all_called=False) as mock:
            mock.route(host="api.twilio.com").mock(side_effect=answer)
            for settings in (_settings(), _settings(twilio_api_key_sid="SK" + "c" * 32, twilio_api_key_secret="secret")):
                rest = TwilioRest(settings)
                assert await rest.redirect(CALL, "https://voice.example.com/twilio/continue?t=abc.def") is UpdateResult.OK
                assert await rest.hang_up(CALL) is UpdateResult.OK
                assert [r["sid"] for r in await rest.recordings(CALL)]
                assert await rest.recording_audio(RECORDING) == b"ID3"
                await rest.aclose()

    asyncio.run(go())
    assert len(seen) == 8
    for request in seen:
        check_request(request)
    forms = [parse_qs(r.content.decode()) for r in seen if r.method == "POST"]
    url = "https://voice.example.com/twilio/continue?t=abc.def"
    assert {"Url": [url], "Method": ["POST"], "FallbackUrl": [url], "FallbackMethod": ["POST"]} in forms
    assert {"Status": ["completed"]} in forms
    assert RECORDED == [], "the request hook saw the same requests"


def test_the_recordings_fixture_is_an_instance_of_the_spec():
    body = json.loads((FIXTURES / "call-recordings.json").read_text())
    contract().check_response("GET", f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}/Recordings.json", body)


def _update(form: dict[str, str], *, path: str | None = None, auth: bool = True) -> httpx.Request:
    headers = {"Authorization": "Basic dG9rOnRvaw=="} if auth else {}
    url = API + (path or f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json")
    return httpx.Request("POST", url, data=form, headers=headers)


@pytest.mark.parametrize("form, reason", [
    ({"Url": "https://voice.example.com/x", "Methd": "POST"}, r"\$\.Methd: `Methd` is not a field the spec declares"),
    ({"Status": "hangup"}, r"\$\.Status: 'hangup' is not one of \['canceled', 'completed'\]"),
    ({"Url": "https://voice.example.com/x", "Method": "PUT"}, r"\$\.Method: 'PUT' is not one of"),
    ({"Url": "/twilio/continue"}, r"\$\.Url: '/twilio/continue' is not an absolute http\(s\) URL"),
    ({"TimeLimit": "soon"}, r"\$\.TimeLimit: 'soon' is not of type 'integer'"),
    ({"Url": "https://voice.example.com/x", "Twiml": "<Response/>"}, r"mutually exclusive"),
    ({"Twiml": "<Response><Say>" + "a" * 3990 + "</Say></Response>"}, r"over the 4000 \(error 32018"),
    ({"Twiml": "<Response><Sya>hi</Sya></Response>"}, r"<Sya> cannot be inside <Response>"),
])
def test_an_off_contract_call_update_fails(form, reason):
    with pytest.raises(ContractViolation, match=reason):
        check_request(_update(form))


def test_a_bad_sid_no_auth_or_an_unknown_operation_fails():
    with pytest.raises(ContractViolation, match=r"path parameter `Sid`"):
        check_request(_update({"Status": "completed"}, path=f"/2010-04-01/Accounts/{ACCOUNT}/Calls/CA123.json"))
    with pytest.raises(ContractViolation, match="HTTP Basic auth"):
        check_request(_update({"Status": "completed"}, auth=False))
    with pytest.raises(ContractViolation, match="no such operation"):
        check_request(_update({"To": "+15555550100"}, path=f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"))


def test_the_hook_records_an_off_contract_request_even_when_the_caller_swallows_it():
    async def go():
        with respx.mock() as mock:
            mock.route(host="api.twilio.com").respond(200, json={"sid": CALL, "status": "in-progress"})
            rest = TwilioRest(_settings())
            await rest._update(CALL, {"Url": "https://voice.example.com/x", "Method": "POST", "Callback": "x"})
            await rest.aclose()

    asyncio.run(go())
    found = list(RECORDED)
    RECORDED.clear()  # expected here
    assert len(found) == 1 and "`Callback` is not a field the spec declares" in str(found[0])


def test_the_fake_twilio_refuses_an_oversized_twiml_like_twilio():
    """Twilio answers `Twiml=` over 4,000 characters with error 32018 in its REST error shape (limits.yaml)."""
    interpreter = pytest.importorskip("agent.testing.twiml_interpreter")
    call_update = getattr(interpreter, "call_update", None)
    if call_update is None:
        pytest.skip("the fake Twilio has no call_update() yet")
    documented = LIMITS["rest"]
    head, tail = "<Response><Say>", "</Say></Response>"
    twiml = head + "a" * (documented["twiml_parameter"]["max_chars"] - len(head) - len(tail)) + tail
    status, body, target = call_update({"Twiml": twiml}, CALL)
    assert (status, target) == (200, twiml), "4,000 characters are still accepted"
    status, body, target = call_update({"Twiml": twiml + "  "}, CALL)
    assert status == documented["error_response"]["http_status"] and target is None
    assert set(body) == set(documented["error_response"]["body_fields"])
    assert body["code"] == documented["twiml_parameter"]["error_code"] and body["status"] == status
    assert body["message"] == documented["twiml_parameter"]["message"]
    assert body["more_info"] == documented["error_response"]["more_info"].format(code=body["code"])
