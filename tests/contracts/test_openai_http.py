"""OpenAI's HTTP APIs we call (chat completions for the briefing, transcriptions after the call) against
OpenAI's published OpenAPI spec (``openai/openapi.json``): what we send, what we serve as OpenAI's answer,
and that the checker fails, clearly, on a renamed field either way.
"""

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import respx

from agent.conversation.briefing import engineer_briefing
from agent.core.call import Call
from agent.live.after_call import AfterCall
from agent.core.settings import Settings
from tests.contracts.checker import Contract, ContractViolation, contract_route
from tests.contracts.openai import chat_completion, documented_answer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BASE = "https://openai.test/v1"
CHAT = f"{BASE}/chat/completions"
TRANSCRIBE = f"{BASE}/audio/transcriptions"
SETTINGS = dict(_env_file=None, openai_api_key="sk-test", openai_base_url=BASE, briefing_model="gpt-test", briefing_timeout_s=2)
OPENAI = "OpenAI API POST /v1/chat/completions (createChatCompletion)"
TRANSCRIPTION = "OpenAI API POST /v1/audio/transcriptions (createTranscription)"


@pytest.fixture
def openai():
    return Contract.load("openai")


def transcription_request(fields: list[tuple[str, str]], file: bool = True) -> httpx.Request:
    """A transcription request with these form fields (a repeated name: one part each) and, as we send it, the file."""
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    files = {"file": ("call.mp3", b"ID3fake", "audio/mpeg")} if file else None
    request = httpx.Request("POST", TRANSCRIBE, data=data, files=files)
    request.read()
    return request


CHAT_BODY = {"model": "gpt-test", "messages": [{"role": "system", "content": "Brief."}, {"role": "user", "content": "{}"}], "max_completion_tokens": 120}


# --- what our code sends, through routes that hold both sides to the spec


def test_the_briefing_sends_a_declared_chat_completion_request():
    with respx.mock() as mock:
        route = contract_route(mock, "openai", "POST", CHAT, json=chat_completion("Jane Doe: login is down.", model="gpt-test"))
        text = asyncio.run(engineer_briefing(Call(fields={"caller_name": "Jane Doe"}), "System outage", Settings(**SETTINGS)))
    assert text == "Jane Doe: login is down."
    sent = json.loads(route.calls.last.request.content)
    assert set(sent) == {"model", "messages", "max_completion_tokens"}


def test_the_after_call_transcription_sends_declared_form_fields(openai):
    after = AfterCall(flow=None, registry=None, settings=Settings(**SETTINGS), context=None, rest=SimpleNamespace())
    with respx.mock() as mock:
        route = contract_route(mock, "openai", "POST", TRANSCRIBE, json=json.loads((FIXTURES / "openai" / "transcription.json").read_text()))
        text = asyncio.run(after._transcribe(b"ID3fake-mp3-bytes"))
    assert text.startswith("Hello, what's going on?")
    fields = openai._form_fields(*_transcription_operation(openai, route.calls.last.request))
    assert fields == {"model": "gpt-4o-transcribe", "file": "call.mp3"}


def _transcription_operation(contract, request):
    operation, _ = contract.operation("POST", request.url.path)
    pointer = f"{operation.pointer}/requestBody/content/multipart~1form-data/schema"
    return operation, pointer, request.headers["content-type"], request.content


# --- the answers we serve are the spec's own documented ones


@pytest.mark.parametrize("path", ["/chat/completions", "/audio/transcriptions"])
def test_the_documented_default_answers_are_instances_of_the_spec(openai, path):
    openai.check_response("POST", f"/v1{path}", documented_answer(path))


def test_a_rate_limit_answer_is_declared_and_a_bare_error_is_not(openai):
    openai.check_response("POST", "/v1/audio/transcriptions", {"error": {"message": "m", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}, 429)
    with pytest.raises(ContractViolation, match=r"response 429 \$\.error: 'param' is a required property"):
        openai.check_response("POST", "/v1/audio/transcriptions", {"error": {"message": "m", "type": "requests", "code": None}}, 429)


# --- renamed fields fail, with the vendor, the operation and the field named


@pytest.mark.parametrize(
    "path, body, field, new",
    [
        ("/v1/chat/completions", chat_completion("hi"), ["choices", 0, "finish_reason"], "finishReason"),
        ("/v1/chat/completions", chat_completion("hi"), ["usage", "prompt_tokens"], "input_tokenz"),
        ("/v1/audio/transcriptions", json.loads((FIXTURES / "openai" / "transcription.json").read_text()), ["usage", "total_tokens"], "totalTokens"),
    ],
    ids=["chat:finishReason", "chat:usage", "transcription:totalTokens"],
)
def test_a_renamed_field_in_an_answer_fails(openai, path, body, field, new):
    openai.check_response("POST", path, body)
    renamed = json.loads(json.dumps(body))
    parent = renamed
    for key in field[:-1]:
        parent = parent[key]
    parent[new] = parent.pop(field[-1])
    with pytest.raises(ContractViolation) as failure:
        openai.check_response("POST", path, renamed)
    where = "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in field[:-1])
    assert str(failure.value).startswith(f"OpenAI API POST {path} ("), str(failure.value)
    assert f"{where}.{new}: `{new}` is not a field the spec declares here" in str(failure.value), str(failure.value)


def test_a_renamed_field_in_a_json_request_fails(openai):
    openai.check_request(httpx.Request("POST", CHAT, json=CHAT_BODY))
    renamed = {**{k: v for k, v in CHAT_BODY.items() if k != "max_completion_tokens"}, "maxTokens": 120}
    with pytest.raises(ContractViolation) as failure:
        openai.check_request(httpx.Request("POST", CHAT, json=renamed))
    assert str(failure.value) == f"{OPENAI}: request body $.maxTokens: `maxTokens` is not a field the spec declares here"


def test_a_deprecated_field_in_a_request_fails_with_the_specs_words(openai):
    old = {**{k: v for k, v in CHAT_BODY.items() if k != "max_completion_tokens"}, "max_tokens": 120}
    with pytest.raises(ContractViolation) as failure:
        openai.check_request(httpx.Request("POST", CHAT, json=old))
    assert str(failure.value) == (
        f"{OPENAI}: request body $.max_tokens: deprecated by the spec, do not send it (This value is now deprecated in favor of "
        "`max_completion_tokens`, and is not compatible with o-series models.)"
    )
    openai.check_response("POST", "/v1/chat/completions", chat_completion("hi"))  # answers: deprecated stays an annotation


def test_a_renamed_field_in_a_multipart_request_fails(openai):
    openai.check_request(transcription_request([("model", "gpt-4o-transcribe")]))
    with pytest.raises(ContractViolation) as failure:
        openai.check_request(transcription_request([("modle", "gpt-4o-transcribe")]))
    assert str(failure.value) == (
        f"{TRANSCRIPTION}: request body (multipart/form-data) $.modle: `modle` is not a field the spec declares here"
        " (also $: 'model' is a required property)"
    )


def test_multipart_fields_are_typed_by_the_schema(openai):
    openai.check_request(transcription_request([
        ("model", "gpt-4o-transcribe"), ("temperature", "0.2"), ("stream", "false"), ("response_format", "json"),
        ("include[]", "logprobs"), ("timestamp_granularities[]", "word"), ("timestamp_granularities[]", "segment"),
    ]))
    cases = [
        ([("model", "m"), ("response_format", "jsn")], r"\$\.response_format: 'jsn' is not one of"),
        ([("model", "m"), ("temperature", "hot")], r"\$\.temperature: 'hot' is not of type 'number'"),
        ([("model", "m"), ("language", "de"), ("language", "en")], r"\$\.language: sent more than once but its schema is not an array"),
        ([("model", "m"), ("prompt[]", "x")], r"\$\.prompt: sent as `prompt\[\]` but its schema is not an array"),
    ]
    for fields, message in cases:
        with pytest.raises(ContractViolation, match=r"request body \(multipart/form-data\) " + message):
            openai.check_request(transcription_request(fields))
    with pytest.raises(ContractViolation, match=r"request body \(multipart/form-data\) \$: 'file' is a required property"):
        openai.check_request(_multipart_without_file())
    with pytest.raises(ContractViolation, match=r"content type 'application/x-www-form-urlencoded' is not declared \(declared: multipart/form-data\)"):
        openai.check_request(transcription_request([("model", "m")], file=False))


def _multipart_without_file() -> httpx.Request:
    request = httpx.Request("POST", TRANSCRIBE, files={"model": (None, "gpt-4o-transcribe")})
    request.read()
    return request
