"""One TLS set-up and one connection pool per service endpoint, per process, for outbound HTTP.

Building an SSL context loads the CA bundle: 30-50 ms of blocking work on the
event loop, which stalls every other call's audio. httpx and the ``openai``
client would each build one per client, i.e. per call or per request; here
it is built once and shared.

A connection costs a TCP and a TLS handshake (50-200 ms to a cloud API), which
a caller hears when it is paid by the greeting's first request. So the
cascade's services borrow :func:`pooled_client`: one ``httpx.AsyncClient``
per endpoint (scheme, host, port) on the running event loop, kept warm
between calls, bounded by :data:`POOL_LIMITS`, closed by :func:`close_pools`
when the server shuts down. Keys are not part of it: the ``openai`` SDK sends
``Authorization: Bearer <key>`` with each request (``AsyncOpenAI.auth_headers``,
``openai/lib/_client_auth.py``), so one pool serves every key.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx
from loguru import logger

#: Per endpoint: at most this many sockets (a burst of calls waits for one rather than opening more), this many
#: idle ones kept, each for this long (cloud load balancers drop idle connections after about a minute).
POOL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30.0)

Origin = tuple[str, str, int]
_POOLS: dict[tuple[int, Origin], tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}


@functools.cache
def ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


def http_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on the shared TLS context (respx stands in for it in tests)."""
    return httpx.AsyncClient(verify=ssl_context(), **options)


def origin(url: str) -> Origin:
    """What makes connections shareable: scheme, host and port (TLS: the process's one context, the same for all)."""
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def pooled_client(url: str) -> httpx.AsyncClient:
    """The running loop's pool for ``url``'s endpoint; borrowers never close it (:func:`close_pools` does).

    Connections belong to the event loop that opened them, so pools are per
    loop (a server has one). Outside a running loop (building services in a
    synchronous test) there is none to share: a client of its own, which its
    borrower closes (:func:`is_pooled` tells them apart).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return http_client(limits=POOL_LIMITS)
    for key in [key for key, (owner, _) in _POOLS.items() if owner.is_closed()]:
        del _POOLS[key]  # a loop that ended without shutting its pools (a test's): their sockets went with it
    key = (id(loop), origin(url))
    entry = _POOLS.get(key)
    if entry is None or entry[0] is not loop or entry[1].is_closed:
        entry = _POOLS[key] = (loop, http_client(limits=POOL_LIMITS))
    return entry[1]


def is_pooled(client: object) -> bool:
    """Whether ``client`` is a shared pool (a borrower must not close it)."""
    return any(pool is client for _, pool in _POOLS.values())


def idle_connections(client: httpx.AsyncClient) -> int:
    """Open connections of ``client`` that wait for a request (a new request takes one without a handshake)."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)  # httpx's transport over httpcore's pool
    return sum(1 for connection in getattr(pool, "connections", ()) if connection.is_idle() and not connection.has_expired())


async def warm(client: httpx.AsyncClient, url: str, *, connections: int = 1, headers: dict[str, str] | None = None) -> int:
    """Open up to ``connections`` connections (fewer by those idle already) with a cheap ``GET url`` each; how many were sent.

    Concurrent requests each take a connection of their own. Any answer (a
    404 too) leaves its connection open and warm; a failure is only logged:
    the call's own request will connect, or report the failure.
    """
    wanted = max(0, connections - idle_connections(client))

    async def one() -> None:
        try:
            response = await client.get(url, headers=headers)
            await response.aclose()
        except Exception as exc:  # noqa: BLE001 - only a head start: the call's own request connects, or reports why not
            logger.debug("warming a connection to {} failed: {!r}", url, exc)

    await asyncio.gather(*(one() for _ in range(wanted)))
    return wanted


async def close_pools() -> None:
    """Close the running loop's pools (at the server's shutdown); the next borrower gets a new one."""
    loop = asyncio.get_running_loop()
    for key in [key for key, (owner, _) in _POOLS.items() if owner is loop]:
        _, client = _POOLS.pop(key)
        await client.aclose()
