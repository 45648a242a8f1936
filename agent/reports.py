"""One outage, one alert: which problems callers already reported, so a later caller hears so.

An alert's dedup key is its intent and service (``outage:checkout``); the
platform attaches every caller with that key to one alert. Whether a
problem is already reported comes from two places: open alerts and
incidents the enrichment sources found (their platform dedup key), and the
alerts this process opened in the last ``report_ttl_s`` — a burst of
callers arrives faster than any enrichment cache refreshes. The ledger
holds dedup keys, alert links and counts only: nothing about callers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from agent.call import Alert
from agent.facts import Fact, OpenIncident

MAX_REPORTS = 10_000  # bounded: a flood of distinct keys cannot grow memory without limit


@dataclass
class Report:
    dedup_key: str
    service: str | None  # as the flow's facts name it
    url: str | None
    callers: int
    expires: float

    def title(self) -> str:
        """What was reported, from the intent and service alone (another caller's words are never repeated)."""
        intent = self.dedup_key.partition(":")[0]
        what = f"a {intent.replace('_', ' ')}" if intent and intent != "call" else "a problem"
        return what + (f" of {self.service}" if self.service else "")


class ReportLedger:
    """Problems reported on this process while their alert is presumably still open."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._reports: dict[str, Report] = {}

    def clear(self) -> None:
        self._reports.clear()

    def get(self, dedup_key: str | None) -> Report | None:
        if not dedup_key:
            return None
        report = self._reports.get(dedup_key)
        if report is not None and report.expires <= self._clock():
            del self._reports[dedup_key]
            return None
        return report

    def record(self, alert: Alert, ttl_s: float) -> None:
        """Note that ``alert`` was opened (or joined) on its platform."""
        if not alert.dedup_key or ttl_s <= 0:
            return
        report = self.get(alert.dedup_key)
        url = alert.receipt.url if alert.receipt else None
        if report is None:
            if len(self._reports) >= MAX_REPORTS:
                self._reports.pop(next(iter(self._reports)))
            services = alert.fields.get("affected_services") or []
            service = str(services[0])[:80] if isinstance(services, list) and services else None
            report = self._reports[alert.dedup_key] = Report(alert.dedup_key, service, url, 0, 0.0)
        report.callers += 1
        report.url = report.url or url
        report.expires = self._clock() + ttl_s

    def facts(self) -> list[Fact]:
        """The open reports as facts, so the agent can tell a caller they are not the first."""
        now = self._clock()
        facts: list[Fact] = []
        for report in list(self._reports.values()):
            if report.expires <= now:
                continue
            callers = "another caller" if report.callers == 1 else f"{report.callers} other callers"
            facts.append(OpenIncident(
                id=f"report:{report.dedup_key}", title=report.title(), status=f"reported by {callers}",
                services=[report.service] if report.service else [],
                url=report.url, dedup_key=report.dedup_key, source="reports",
            ))
        return facts


def caller_was_told(alert: Alert, facts_used: Iterable[str]) -> bool:
    """Whether the conversation already told this caller that others reported the same problem."""
    return f"open_incident:report:{alert.dedup_key}" in facts_used


def already_reported(alert: Alert, facts: Iterable[Fact], ledger: ReportLedger) -> bool:
    """Whether an open alert or incident already carries ``alert``'s dedup key."""
    if not alert.dedup_key:
        return False
    if ledger.get(alert.dedup_key) is not None:
        return True
    return any(isinstance(f, OpenIncident) and f.dedup_key == alert.dedup_key for f in facts)


REPORTS = ReportLedger()
