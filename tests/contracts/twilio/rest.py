"""What we send to Twilio's REST API, against Twilio's OpenAPI spec (``api_v2010.json``) and limits.yaml.

``api_v2010.json`` is Twilio's own spec (github.com/twilio/twilio-oai, ``spec/json/twilio_api_v2010.json``;
the commit is in its ``info.x-trimmed-from``) trimmed with ``tests/contracts/trim.py`` to the operations
``agent/live/twilio_rest.py`` calls: update a call, list a call's recordings, fetch a recording (whose
audio is the same path with ``.mp3``/``.wav``, as Twilio documents; the spec does not describe it).

:func:`check_request` checks an ``httpx.Request`` with the shared checker: path parameters (such as the
``^CA[0-9a-fA-F]{32}$`` SIDs), query parameters and the ``application/x-www-form-urlencoded`` body (every
form parameter declared by the operation, each value valid for its schema: ``Status`` and ``Method``
enums, ``TimeLimit`` an integer). What is Twilio's own is added here: Twilio's ``format``s, given to the
checker as ``formats`` (a ``format: uri`` value must be an absolute http(s) URL; a ``format: twiml`` value,
``Twiml``, must pass :func:`tests.contracts.twiml.check_twiml` as a REST parameter: at most 4,000
characters, error 32018), ``Url`` and ``Twiml`` are mutually exclusive (the spec's description of
``Twiml``), the request carries HTTP Basic auth (the spec's only security scheme), and a recording's
audio URL is checked as the documented ``Recordings/{Sid}.json``.

The fixture :func:`twilio_rest_checked` adds this check as a request hook to the HTTP client of every
``TwilioRest`` built during a test, whatever answers it (respx, a fake server); a violation is recorded
in ``checker.RECORDED`` and the contract plugin fails the test.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.contracts.checker import RECORDED, Contract, ContractViolation
from tests.contracts.twiml import LIMITS, check_twiml

HERE = Path(__file__).resolve().parent
VENDOR = "Twilio REST API (twilio-oai api_v2010)"

__all__ = ["ContractViolation", "check_request", "contract", "twilio_rest_checked"]


def _uri(value: str) -> None:
    """``format: uri`` in what we send: an absolute http(s) URL (Twilio fetches it), within the documented length."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an absolute http(s) URL (format: uri)")
    limit = LIMITS["rest"]["url_parameter_max_chars"]
    if limit != "not documented" and len(value) > int(limit):
        raise ValueError(f"URL of {len(value)} characters is over the documented {limit}")


def _twiml(value: str) -> None:
    """``format: twiml``: the REST ``Twiml`` parameter, checked by the TwiML contract."""
    check_twiml(value, as_rest_parameter=True)


@lru_cache(maxsize=None)
def contract() -> Contract:
    """The trimmed Twilio API v2010 spec as a :class:`tests.contracts.checker.Contract`, with Twilio's formats."""
    document = json.loads((HERE / "api_v2010.json").read_text(encoding="utf-8"))
    return Contract("twilio-api-v2010", VENDOR, document, "openapi", formats={"uri": _uri, "twiml": _twiml})


def _media_as_resource(path: str) -> str:
    """``.../Recordings/RE….mp3`` (the documented media URL) -> ``.../Recordings/RE….json`` (the resource)."""
    for extension in LIMITS["rest"]["recording_media"]["extensions"]:
        if "/Recordings/" in path and path.endswith(extension):
            return path[: -len(extension)] + ".json"
    return path


def check_request(request: httpx.Request) -> None:
    """A request we sent to Twilio: path, query, form body and auth against the spec (see module doc)."""
    spec = contract()
    path = _media_as_resource(request.url.path)
    if path != request.url.path:
        request = httpx.Request(request.method, request.url.copy_with(path=path), headers=request.headers)
    body = spec.check_request(request)
    operation, _ = spec.operation(request.method, request.url.path)
    schemes = (spec.raw.get("components") or {}).get("securitySchemes") or {}
    if any(s.get("scheme") == "basic" for s in schemes.values()):
        if not request.headers.get("authorization", "").startswith("Basic "):
            raise ContractViolation(f"{VENDOR} {operation.label}: header Authorization: HTTP Basic auth is required")
    if isinstance(body, dict) and "Url" in body and "Twiml" in body:
        raise ContractViolation(f"{VENDOR} {operation.label}: request body (application/x-www-form-urlencoded) $: "
                                "`Url` and `Twiml` are mutually exclusive (the spec's description of `Twiml`)")


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
