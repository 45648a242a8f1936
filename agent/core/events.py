"""The call event log: one structured line per thing that happened on a call, safe to keep.

Every event is a loguru record bound with ``call_id`` and ``event`` (and a
few fields), so an operator can follow one call from its first webhook to its
outcome record (whose ``call_id`` is the same) — in the console, or as JSON
lines (``VOICE_AGENT_LOG_JSON=true``) for a log pipeline to index.

Fields carry only what the system decided or measured: node ids, tool names,
which fields a tool set (their names, never their values), reasons, counts
and milliseconds. What a caller said or gave stays out; the log sink redacts
phone numbers and e-mail addresses in anything else on top.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

_log = logger.opt(depth=1)


def call_event(call_id: str | None, event: str, **fields: Any) -> None:
    """Log ``event`` for the call ``call_id`` with ``fields`` (system data only, see the module doc)."""
    detail = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    _log.bind(call_id=call_id or "-", event=event, **fields).info("call {} {}{}", call_id or "-", event, f" {detail}" if detail else "")
