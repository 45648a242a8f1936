"""Calls to the incident platforms a flow names: opening alerts and asking who is on call.

Shared by the simulator and live calls. A platform that fails or is slow is
logged and noted; the call goes on (the alert stays in the outcome record,
and route_call falls back to the targets it can still reach).
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from loguru import logger

from agent.core.alert_ledger import ALERT_LEDGER, already_reported
from agent.core.call import Alert, AlertNote, AlertReceipt, Call
from agent.core.facts import OnCallShift
from agent.core.registry import Registry
from agent.core.sources import PluginContext, build_plugin
from agent.core.config import PluginRef, RouteTarget

DEFAULT_TIMEOUT_S = 10.0


@runtime_checkable
class AlertPlatform(Protocol):
    """What an alert platform plugin's class builds: where ``create_alert`` and ``voicemail`` nodes open alerts.

    The class is called as ``PlatformClass(config, context)`` like a source
    (the node's ``platform:`` options validated by an optional ``Config``
    model, and a :class:`~agent.core.sources.PluginContext`). Every call is
    limited to the ``platform:`` entry's ``timeout_ms`` (default 10 s); a
    platform that raises or is late is logged and noted in the outcome, and
    the call goes on.
    """

    async def open_alert(self, alert: Alert, call: Call) -> AlertReceipt:
        """Open (or update) the alert; return the platform's key for it and, if any, its URL.

        ``alert`` has a one-line ``summary``, ``details`` (the engineer's
        briefing), ``priority`` (``high``/``low``), the gathered ``fields``,
        ``links`` (e.g. the call's recording), the ``transcript`` when the
        flow sends it, and a ``dedup_key`` shared by callers reporting the
        same problem: send it as the platform's own deduplication key so
        they land in one alert. The receipt's ``key`` is what :meth:`add_note`
        gets back later (``alert.receipt``).
        """
        ...

    async def add_note(self, alert: Alert, note: AlertNote) -> None:
        """Add something learnt after the alert was opened to it (optional: leave it out if you cannot).

        Called after the call, e.g. with the transcription of its recording
        (``note.text``) and a link to the recording (``note.links``), for an
        alert this platform opened earlier in the same call: ``alert.receipt``
        holds what :meth:`open_alert` returned (else use ``alert.dedup_key``).
        Raise when it failed (it is logged; the alert keeps what it had). A
        platform without ``add_note`` is skipped, with a log line.
        """
        ...


@runtime_checkable
class OnCallDirectory(Protocol):
    """What an on-call directory plugin's class builds: who ``route_call`` dials for a schedule, policy or user.

    Built as ``DirectoryClass(config, context)`` from a ``route_call`` node's
    ``on_call:`` entry. Each target is asked concurrently, limited by the
    entry's ``timeout_ms`` (default 10 s); a target whose look-up fails or is
    late is skipped and the call dials the targets it can still reach.
    """

    async def on_call(self, target: RouteTarget, call: Call) -> list[OnCallShift]:
        """The people to ring for ``target`` (``target.type``: ``escalation_policy``, ``on_call_schedule``
        or ``user``; ``target.id``), in order, each with ``name`` and a dialable ``number`` (E.164).

        Numbers are dialled, never spoken to callers or shown to the model.
        """
        ...


async def open_alert(
    alert: Alert, call: Call, ref: PluginRef | None, registry: Registry, context: PluginContext, *, transcript: bool = False,
) -> str | None:
    """Open ``alert`` on the platform ``ref`` names (sets ``alert.receipt``); a note when that failed.

    ``transcript``: the call's conversation goes with the alert (the flow's ``after_call.transcript``).
    """
    if transcript:
        alert.transcript = call.transcript_text() or None
    if ref is None:
        return None
    alert.already_reported = await already_reported(alert, call.facts, ALERT_LEDGER)
    try:
        platform = build_plugin(ref, registry.alert_platforms, context, kind="alert platform")
        timeout = ref.timeout_ms / 1000 if ref.timeout_ms else DEFAULT_TIMEOUT_S
        alert.receipt = await asyncio.wait_for(platform.open_alert(alert, call), timeout)
    except Exception as exc:  # the caller must still reach a person
        logger.warning("alert platform {} failed: {!r}", ref.type, exc)
        return f"alert platform {ref.type} failed: {type(exc).__name__}"
    await ALERT_LEDGER.record(alert, context.settings.report_ttl_s)
    return None


async def add_note(alert: Alert, note: AlertNote, ref: PluginRef, registry: Registry, context: PluginContext) -> bool:
    """Add ``note`` to an alert opened earlier (platforms without ``add_note`` skip it); False when it failed."""
    try:
        platform = build_plugin(ref, registry.alert_platforms, context, kind="alert platform")
        if not hasattr(platform, "add_note"):
            logger.info("alert platform {} cannot add notes to alerts; skipped", ref.type)
            return False
        timeout = ref.timeout_ms / 1000 if ref.timeout_ms else DEFAULT_TIMEOUT_S
        await asyncio.wait_for(platform.add_note(alert, note), timeout)
    except Exception as exc:
        logger.warning("adding a note to a {} alert failed: {!r}", ref.type, exc)
        return False
    return True


async def on_call_people(
    targets: list[RouteTarget], directory_ref: PluginRef | None, call: Call, registry: Registry, context: PluginContext,
) -> tuple[dict[int, list[OnCallShift]], list[str]]:
    """Who is on call for each schedule, policy or user target (by index): from the directory, else from facts."""
    wanted = {i: t for i, t in enumerate(targets) if t.type != "number"}
    found: dict[int, list[OnCallShift]] = {}
    notes: list[str] = []
    if not wanted:
        return found, notes
    if directory_ref is None:
        for index, target in wanted.items():
            found[index] = [f for f in call.facts if isinstance(f, OnCallShift) and f.schedule == target.id]
        return found, notes
    try:
        directory = build_plugin(directory_ref, registry.oncall_directories, context, kind="on-call directory")
    except Exception as exc:
        logger.warning("on-call directory {} unusable: {!r}", directory_ref.type, exc)
        return found, [f"on-call directory {directory_ref.type} unusable: {exc}"]
    timeout = directory_ref.timeout_ms / 1000 if directory_ref.timeout_ms else DEFAULT_TIMEOUT_S

    async def ask(index: int) -> None:
        try:
            found[index] = list(await asyncio.wait_for(directory.on_call(wanted[index], call), timeout))
        except Exception as exc:
            logger.warning("on-call look-up for {} {} failed: {!r}", wanted[index].type, wanted[index].id, exc)
            notes.append(f"on-call look-up for {wanted[index].id} failed: {type(exc).__name__}")

    await asyncio.gather(*(ask(i) for i in wanted))
    return found, notes
