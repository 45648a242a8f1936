"""Shared set-up of the security tests: a server app, signed requests, metric read-outs."""

from __future__ import annotations

import re

import httpx
from prometheus_client import generate_latest
from twilio.request_validator import RequestValidator

from agent.server.app import create_app
from agent.testing.settings import ACCOUNT, PUBLIC, TOKEN, agent_settings  # noqa: F401  (ACCOUNT: for the tests)
from tests.conftest import HOTLINE


def app(media=None, **overrides):
    """The server answering the example hotline; ``overrides``: its settings (:func:`agent_settings`)."""
    return create_app(agent_settings(HOTLINE, **overrides), media=media)


def sign(url: str, form: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url if url.startswith(("http", "wss")) else PUBLIC + url, form)


def client(application) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url=PUBLIC)


def rejected(application, reason: str) -> float:
    """The value of ``voice_agent_webhooks_rejected_total{reason=...}``."""
    text = generate_latest(application.state.metrics.registry).decode()
    found = re.search(rf'voice_agent_webhooks_rejected_total\{{reason="{re.escape(reason)}"\}} ([0-9.]+)', text)
    return float(found.group(1)) if found else 0.0
