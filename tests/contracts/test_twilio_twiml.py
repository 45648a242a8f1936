"""The TwiML our server serves, against the twilio library's TwiML grammar and Twilio's documented limits.

Every document goes through the fake Twilio (``TwimlInterpreter``), where :func:`twiml_checked` checks it.
Here: deterministic calls through the hotline flow (Say, Gather, Dial with whispers, Record, Redirect,
Hangup). The realtime path (``<Connect><Stream>``, the continue webhook) is checked the same way in
tests/contracts/test_openai_realtime.py's live calls.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from twilio.twiml.voice_response import Connect, Gather, Say, Stream, VoiceResponse

from agent.testing.twiml_interpreter import Spoken
from tests.contracts.checker import RECORDED
from tests.contracts.twiml import LIMITS, ContractViolation, check_twiml, check_webhook_form, grammar
from tests.contracts.twiml import twiml_checked  # noqa: F401  (autouse: every TwiML the fake Twilio is served)
from tests.contracts.twilio.rest import twilio_rest_checked  # noqa: F401  (autouse)
from tests.test_server_gather import run_call


def test_the_grammar_is_read_from_the_installed_twilio_library():
    table = grammar()
    stream = table[Connect]["Stream"]
    assert {"url", "statusCallback", "statusCallbackMethod", "name", "track"} <= stream.attributes and not stream.text
    assert table[Stream]["Parameter"].attributes == {"name", "value"}
    assert table[VoiceResponse]["Say"].attributes == {"voice", "loop", "language"} and table[VoiceResponse]["Say"].text
    assert {"Say", "Play", "Pause"} == set(table[Gather])
    assert "break" in table[Say] and "say-as" in table[Say]  # SSML, as the library writes it


def test_every_twiml_the_server_serves_on_deterministic_calls_is_twilio_twiml(twiml_checked):
    calls = [
        dict(turns=["Hi, this is Jane Doe from Initech. Our users can't log in at all, the login page just times out.",
                    "yes", "jane dot doe at initech dot com", "yes", Spoken(digits="2093155")]),
        dict(turns=["the checkout is broken, customers can't pay", "no that's all"]),
        dict(turns=["put me through to a person please", "Jane here, checkout is down, call me back"], answer_dials=False),
        dict(turns=[Spoken(), Spoken(), Spoken()]),
    ]
    for call in calls:
        record = run_call(call.pop("turns"), **call)
        assert record.statuses and all(status == 200 for status in record.statuses)
    served = "".join(twiml_checked)
    assert len(twiml_checked) >= 12
    for verb in ("<Say", "<Gather", "<Dial", "<Number", "<Record", "<Redirect", "<Hangup"):
        assert verb in served, f"no {verb} was served: the check saw less than it should"


# --- the checks can fail ------------------------------------------------------------------------------------

SAY = LIMITS["twiml"]["say"]


def _say(text: str, **attributes: str) -> str:
    response = VoiceResponse()
    response.say(text, **attributes)
    return str(response)


def test_a_say_over_the_documented_length_fails():
    check_twiml(_say("a" * SAY["max_chars"]["basic"]))
    with pytest.raises(ContractViolation, match=r"<Say> text of 4097 bytes is over the 4096 of basic voices \(warning 13521"):
        check_twiml(_say("a" * (SAY["max_chars"]["basic"] + 1)))
    with pytest.raises(ContractViolation, match=r"over the 3000 of polly voices"):
        check_twiml(_say("a" * 3001, voice="Polly.Amy"))
    check_twiml(_say("a" * 4500, voice="Google.en-US-Standard-C"))
    long_encoded = "é" * 800  # 1,600 bytes, but 4,800 characters URL-encoded
    assert len(quote(long_encoded, safe="")) > SAY["url_encoded_max_chars"]
    with pytest.raises(ContractViolation, match=r"URL-encoded is 4800 characters, over the 4500"):
        check_twiml(_say(long_encoded))


def test_twiml_over_4000_characters_fails_as_a_rest_parameter_only():
    document = _say("a" * 4000)
    check_twiml(document)  # served by a webhook: fine
    with pytest.raises(ContractViolation, match=r"as the REST `Twiml` parameter, over the 4000 \(error 32018"):
        check_twiml(document, as_rest_parameter=True)


@pytest.mark.parametrize("document, reason", [
    ('<Response><Say vioce="alice">Hi</Say></Response>', r"/Response/Say\[0\]@vioce: <Say> takes no attribute `vioce`"),
    ('<Response><Gather input="speech"><Dial>+4930</Dial></Gather></Response>', r"<Dial> cannot be inside <Gather>"),
    ('<Response><Gather input="speech voice"/></Response>', r"@input: 'speech voice' is not a space-separated list of"),
    ('<Response><Redirect method="PUT">/next</Redirect></Response>', r"@method: 'PUT' is not one of \['GET', 'POST'\]"),
    ('<Response><Connect><Stream url="wss://voice.example.com/media?t=abc"/></Connect></Response>', r"may not carry a query string"),
    ('<Response><Connect><Stream url="https://voice.example.com/media"/></Connect></Response>', r"must be wss://"),
    ('<Response><Gather action="not a url"/></Response>', r"@action: 'not a url' is not a URL"),
    ('<Response><Hangup>now</Hangup></Response>', r"<Hangup> carries no text"),
    ('<Response><Say>unclosed</Response>', r"not well-formed XML"),
    ('<Reply><Say>Hi</Say></Reply>', r"the root element must be <Response>"),
])
def test_off_contract_twiml_fails(document, reason):
    with pytest.raises(ContractViolation, match=reason):
        check_twiml(document)


def test_a_webhook_form_with_an_undocumented_parameter_fails():
    check_webhook_form({"CallSid": "CA" + "0" * 32, "CallStatus": "in-progress", "SpeechResult": "hi", "Confidence": "0.9"})
    with pytest.raises(ContractViolation, match="no webhook parameter SpeechText"):
        check_webhook_form({"CallSid": "CA" + "0" * 32, "SpeechText": "hi"})
    with pytest.raises(ContractViolation, match=r"form.CallStatus: 'answered' is not one of"):
        check_webhook_form({"CallStatus": "answered"})


def test_the_hook_fails_the_call_when_the_server_serves_off_contract_twiml(monkeypatch):
    """A regression in the server's TwiML (here: an attribute only **kwargs would produce) stops the call."""
    from agent.live import runner

    original = runner.LiveFlow.voice if hasattr(runner, "LiveFlow") else None
    if original is None:
        pytest.skip("agent.live.runner has no LiveFlow.voice to break")

    def voice(self, language=None):
        return {**original(self, language), "speech_rate": "fast"}

    monkeypatch.setattr(runner.LiveFlow, "voice", voice)
    with pytest.raises(ContractViolation, match=r"<Say> takes no attribute `speechRate`"):
        run_call(["no that's all"])
    RECORDED.clear()  # expected here


def test_every_limit_names_its_source():
    def walk(node, path, source=""):
        if isinstance(node, dict):
            source = node.get("source", source)
            numbers = any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in node.values())
            if numbers or "parameters" in node or "values" in node or "attribute_values" in node:
                assert str(source).startswith("https://www.twilio.com/docs/"), f"{path}: no source"
            for key, value in node.items():
                walk(value, f"{path}.{key}", source)

    walk(LIMITS, "limits")
