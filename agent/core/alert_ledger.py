"""One outage, one alert: which problems callers already reported, so a later caller hears so.

An alert's dedup key is its intent and service (``outage:checkout``); the
platform attaches every caller with that key to one alert. Whether a
problem is already reported comes from two places: open alerts and
incidents the enrichment sources found (their platform dedup key), and the
alerts opened here in the last ``report_ttl_s`` — a burst of callers arrives
faster than any enrichment cache refreshes. "Here" is this process, or every
replica when they share state (:mod:`agent.core.shared_state`). The ledger holds
dedup keys, alert links and counts only: nothing about callers.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.core.call import Alert
from agent.core.facts import Fact, OpenIncident
from agent.core.shared_state import MAX_REPORTS, MemoryState, Report, SharedState

__all__ = ["ALERT_LEDGER", "MAX_REPORTS", "AlertLedger", "already_reported", "caller_was_told", "report_title"]


def report_title(report: Report) -> str:
    """What was reported, from the intent and service alone (another caller's words are never repeated)."""
    intent = report.dedup_key.partition(":")[0]
    what = f"a {intent.replace('_', ' ')}" if intent and intent != "call" else "a problem"
    return what + (f" of {report.service}" if report.service else "")


class AlertLedger:
    """The alerts opened (or joined) here: problems reported while their alert is presumably still open."""

    def __init__(self, state: SharedState | None = None) -> None:
        self.state: SharedState = state or MemoryState()

    def use(self, state: SharedState) -> None:
        """Keep reports in ``state`` from now on (the server's shared state)."""
        self.state = state

    async def clear(self) -> None:
        await self.state.clear()

    async def get(self, dedup_key: str | None) -> Report | None:
        return await self.state.report(dedup_key) if dedup_key else None

    async def record(self, alert: Alert, ttl_s: float) -> None:
        """Note that ``alert`` was opened (or joined) on its platform."""
        if not alert.dedup_key or ttl_s <= 0:
            return
        services = alert.fields.get("affected_services") or []
        service = str(services[0])[:80] if isinstance(services, list) and services else None
        await self.state.add_report(alert.dedup_key, service, alert.receipt.url if alert.receipt else None, ttl_s)

    async def facts(self) -> list[Fact]:
        """The open reports as facts, so the agent can tell a caller they are not the first."""
        facts: list[Fact] = []
        for report in await self.state.reports():
            callers = "another caller" if report.callers == 1 else f"{report.callers} other callers"
            facts.append(OpenIncident(
                id=f"report:{report.dedup_key}", title=report_title(report), status=f"reported by {callers}",
                services=[report.service] if report.service else [],
                url=report.url, dedup_key=report.dedup_key, source="alert_ledger",
            ))
        return facts


def caller_was_told(alert: Alert, facts_used: Iterable[str]) -> bool:
    """Whether the conversation already told this caller that others reported the same problem."""
    return f"open_incident:report:{alert.dedup_key}" in facts_used


async def already_reported(alert: Alert, facts: Iterable[Fact], ledger: AlertLedger) -> bool:
    """Whether an open alert or incident already carries ``alert``'s dedup key."""
    if not alert.dedup_key:
        return False
    if await ledger.get(alert.dedup_key) is not None:
        return True
    return any(isinstance(f, OpenIncident) and f.dedup_key == alert.dedup_key for f in facts)


ALERT_LEDGER = AlertLedger()
"""The process's ledger; the server points it at the shared state (``ALERT_LEDGER.use``)."""


