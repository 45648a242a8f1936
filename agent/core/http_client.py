"""One TLS set-up per process for every outbound connection.

Building an SSL context loads the CA bundle: 30-50 ms of blocking work on the
event loop, which stalls every other call's audio. httpx and the ``openai``
client would each build one per client, i.e. per call or per request; here
it is built once and shared.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import certifi
import httpx


@functools.cache
def ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


def http_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on the shared TLS context (respx stands in for it in tests)."""
    return httpx.AsyncClient(verify=ssl_context(), **options)
