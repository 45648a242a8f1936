"""The ``openai`` client for the HTTP APIs we use (chat completions, transcriptions).

Built on plain ``httpx`` so the base URL and transport are ours: tests stand
in for OpenAI with respx, and deployments can put a proxy in between.
"""

from __future__ import annotations

from openai import AsyncOpenAI

from agent.core.http_client import http_client
from agent.core.settings import Settings


def openai_client(settings: Settings, timeout_s: float) -> AsyncOpenAI:
    """A client for one job; use it as ``async with``. Needs ``settings.openai_api_key``."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    return AsyncOpenAI(
        api_key=key, base_url=settings.openai_base_url, max_retries=0, timeout=timeout_s,
        http_client=http_client(timeout=timeout_s),
    )
