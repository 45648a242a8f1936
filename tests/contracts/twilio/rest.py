"""What we send to Twilio's REST API, against Twilio's OpenAPI spec (``api_v2010.json``) and limits.yaml.

``api_v2010.json`` is Twilio's own spec (github.com/twilio/twilio-oai, ``spec/json/twilio_api_v2010.json``;
the commit is in its ``info.x-trimmed-from``) trimmed with ``tests/contracts/trim.py`` to the operations
``agent/live/twilio_rest.py`` calls: update a call, list a call's recordings, fetch a recording (whose
audio is the same path with ``.mp3``/``.wav``, as Twilio documents; the spec does not describe it).

:func:`check_request` checks an ``httpx.Request`` with the shared checker (path parameters such as the
``^CA[0-9a-fA-F]{32}$`` SIDs, query parameters) and adds what the shared checker leaves out for Twilio:
the ``application/x-www-form-urlencoded`` body. Every form parameter must be declared by the operation
(``unevaluatedProperties: false``), each value must fit its schema after the usual string coercion
(``Status`` and ``Method`` enums, ``TimeLimit`` an integer), a ``format: uri`` value must be an absolute
http(s) URL, a ``format: twiml`` value (``Twiml``) must pass :func:`tests.contracts.twiml.check_twiml`
as a REST parameter (at most 4,000 characters, error 32018), ``Url`` and ``Twiml`` are mutually exclusive
(the spec's description of ``Twiml``), and the request carries HTTP Basic auth (the spec's only
security scheme).

The fixture :func:`twilio_rest_checked` adds this check as a request hook to the HTTP client of every
``TwilioRest`` built during a test, whatever answers it (respx, a fake server); a violation is recorded
in ``checker.RECORDED`` and the contract plugin fails the test.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.contracts.checker import RECORDED, Contract, ContractViolation, Operation, _coerce, _escape, _pointer
from tests.contracts.twiml import LIMITS, check_twiml

HERE = Path(__file__).resolve().parent
VENDOR = "Twilio REST API (twilio-oai api_v2010)"
FORM = "application/x-www-form-urlencoded"

__all__ = ["ContractViolation", "check_form", "check_request", "contract", "twilio_rest_checked"]


@lru_cache(maxsize=None)
def contract() -> Contract:
    """The trimmed Twilio API v2010 spec as a :class:`tests.contracts.checker.Contract`."""
    document = json.loads((HERE / "api_v2010.json").read_text(encoding="utf-8"))
    return Contract("twilio-api-v2010", VENDOR, document, "openapi")


def _media_as_resource(path: str) -> str:
    """``.../Recordings/RE….mp3`` (the documented media URL) -> ``.../Recordings/RE….json`` (the resource)."""
    for extension in LIMITS["rest"]["recording_media"]["extensions"]:
        if "/Recordings/" in path and path.endswith(extension):
            return path[: -len(extension)] + ".json"
    return path


def _fail(label: str, path: str, reason: str) -> None:
    raise ContractViolation(f"{VENDOR} {label}: form body {path}: {reason}")


def _check_uri(label: str, name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        _fail(label, f"$.{name}", f"{value!r} is not an absolute http(s) URL (format: uri)")
    limit = LIMITS["rest"]["url_parameter_max_chars"]
    if limit != "not documented" and len(value) > int(limit):
        _fail(label, f"$.{name}", f"URL of {len(value)} characters is over the documented {limit}")


def check_form(operation: Operation, form: dict[str, list[str]]) -> None:
    """A form body against the operation's ``application/x-www-form-urlencoded`` schema (see module doc)."""
    spec = contract()
    label = operation.label
    body = spec._deref(operation.spec.get("requestBody") or {})
    media = (body.get("content") or {}).get(FORM)
    if media is None:
        _fail(label, "$", f"the operation declares no {FORM} body")
    pointer = f"{operation.pointer}/requestBody/content/{_escape(FORM)}/schema"
    schema = spec._deref(_pointer(spec.document, "#" + pointer))
    properties = schema.get("properties") or {}
    instance: dict[str, Any] = {}
    for name, values in form.items():
        prop = spec._deref(properties.get(name) or {})
        kinds = prop.get("type") if isinstance(prop.get("type"), list) else [prop.get("type")]
        if "array" in kinds:
            items = spec._deref(prop.get("items") or {})
            instance[name] = [_coerce(items, v) for v in values]
            continue
        if len(values) > 1:
            _fail(label, f"$.{name}", f"sent {len(values)} times but its schema is not an array")
        instance[name] = _coerce(prop, values[0]) if prop else values[0]
    try:  # request=True: a parameter the spec marks deprecated fails in what we send (newer checker)
        validator = spec._validator(pointer, request=True)
    except TypeError:
        validator = spec._validator(pointer)
    spec._validate(validator, instance, label, "form body")
    for name, value in instance.items():
        fmt = spec._deref(properties.get(name) or {}).get("format")
        if fmt == "uri" and isinstance(value, str):
            _check_uri(label, name, value)
        elif fmt == "twiml" and isinstance(value, str):
            check_twiml(value, as_rest_parameter=True, where=f"{label} form body $.{name}")
    if "Url" in instance and "Twiml" in instance and "Twiml" in properties:
        _fail(label, "$", "`Url` and `Twiml` are mutually exclusive (the spec's description of `Twiml`)")


def check_request(request: httpx.Request) -> None:
    """A request we sent to Twilio: path, query, auth and form body against the spec (see module doc)."""
    spec = contract()
    path = _media_as_resource(request.url.path)
    if path != request.url.path:
        request = httpx.Request(request.method, request.url.copy_with(path=path), headers=request.headers)
    spec.check_request(request)  # path and query parameters; it skips non-JSON bodies
    operation, _ = spec.operation(request.method, request.url.path)
    schemes = (spec.raw.get("components") or {}).get("securitySchemes") or {}
    if any(s.get("scheme") == "basic" for s in schemes.values()):
        if not request.headers.get("authorization", "").startswith("Basic "):
            raise ContractViolation(f"{VENDOR} {operation.label}: header Authorization: HTTP Basic auth is required")
    content = request.content
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content and ctype == FORM:
        check_form(operation, parse_qs(content.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    elif content and ctype != "application/json":
        raise ContractViolation(f"{VENDOR} {operation.label}: request body: content type {ctype or 'none'!r} is not declared")


async def _hook(request: httpx.Request) -> None:
    await request.aread()
    try:
        check_request(request)
    except ContractViolation as violation:
        RECORDED.append(violation)


@pytest.fixture(autouse=True)
def twilio_rest_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request a ``TwilioRest`` built during the test sends is checked (recorded in ``checker.RECORDED``)."""
    from agent.live.twilio_rest import TwilioRest

    original = TwilioRest.__init__

    def init(self: TwilioRest, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        client = getattr(self, "_client", None)
        if isinstance(client, httpx.AsyncClient):
            hooks = client.event_hooks
            if _hook not in hooks["request"]:
                client.event_hooks = {**hooks, "request": [*hooks["request"], _hook]}

    monkeypatch.setattr(TwilioRest, "__init__", init)
