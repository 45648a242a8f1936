"""ilert: enrichment (incidents, services, maintenance, alerts), alert creation and on-call routing.

One module, three roles, all named ``ilert`` in flows::

    enrichment:
      sources:
        - type: ilert
          information: [incidents, services, maintenance]   # and/or alerts
          services: ["1234"]                                 # optional: only these service ids
    ...
    type: create_alert
    platform: {type: ilert}
    ...
    type: route_call
    on_call: {type: ilert}
    targets: [{type: escalation_policy, id: "123"}]

Settings (env vars ``VOICE_AGENT_*``): ``ILERT_BASE_URL`` (EU/US region),
``ILERT_API_KEY`` (an API token: ``Authorization: Bearer <token>``; read
access to incidents, services, maintenance windows, alerts, on-calls and
users), ``ILERT_ALERT_SOURCE_KEY`` (the integration key of the alert source
that calls open alerts in; sent as ``apiKey`` in ``POST /api/events``), and
``HTTP_TIMEOUT_S`` (every request's limit).

Every failure (HTTP 401/403/429/5xx, a timeout, a body that is not the
expected JSON) raises :class:`IlertError` with what went wrong; the framework
drops the source (or notes the failed alert / look-up) and the call goes on.
Single records with missing or unexpected fields are skipped, the rest kept.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import phonenumbers
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from agent import hookimpl
from agent.call import Alert, AlertLink, AlertNote, AlertReceipt
from agent.facts import Fact, MaintenanceWindow, OnCallShift, OpenIncident, ServiceState
from agent.http_client import http_client
from agent.sources import SourceContext

PAGE_SIZE = 100  # the most /api/incidents returns a page
MAX_PAGES = 10

_SERVICE_STATUS = {
    "OPERATIONAL": "operational",
    "DEGRADED": "degraded",
    "PARTIAL_OUTAGE": "partial_outage",
    "MAJOR_OUTAGE": "major_outage",
    "UNDER_MAINTENANCE": "under_maintenance",
}

Information = Literal["incidents", "services", "maintenance", "alerts"]


class IlertError(RuntimeError):
    """A request to ilert that failed; the message says which and why."""


# --------------------------------------------------------------------------- HTTP


class _Api:
    """A thin client: base URL, auth and timeout from the settings, errors as :class:`IlertError`."""

    def __init__(self, context: SourceContext, *, need_key: bool = True, send_key: bool = True) -> None:
        settings = context.settings
        self.base_url = settings.ilert_base_url.rstrip("/")
        self.timeout = settings.http_timeout_s
        self.region = settings.default_region
        key = settings.ilert_api_key.get_secret_value() if settings.ilert_api_key else None
        # A missing key fails the request, not the flow check: flows stay checkable without secrets.
        self.missing = "no ilert API key: set VOICE_AGENT_ILERT_API_KEY" if need_key and not key else None
        self.headers = {"Accept": "application/json"}
        if key and send_key:
            self.headers["Authorization"] = f"Bearer {key}"

    def client(self) -> httpx.AsyncClient:
        return http_client(base_url=self.base_url, headers=self.headers, timeout=self.timeout)

    async def request(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
        what = f"{method} {path}"
        if self.missing:
            raise IlertError(f"ilert {what}: {self.missing}")
        try:
            response = await client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise IlertError(f"ilert {what} timed out after {self.timeout:g} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise IlertError(f"ilert {what} failed: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status in (401, 403):
            raise IlertError(
                f"ilert {what} answered {status}: the API key was rejected or lacks permission "
                "(check VOICE_AGENT_ILERT_API_KEY / VOICE_AGENT_ILERT_ALERT_SOURCE_KEY)"
            )
        if status == 429:
            retry = response.headers.get("Retry-After")
            raise IlertError(f"ilert {what} answered 429: rate limited" + (f" (retry after {retry} s)" if retry else ""))
        if status >= 500:
            raise IlertError(f"ilert {what} answered {status}: server error")
        if status >= 400:
            raise IlertError(f"ilert {what} answered {status}: {response.text[:200]}")
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            raise IlertError(f"ilert {what} answered {status} with a body that is not JSON: {response.text[:80]!r}") from exc

    async def get_list(self, client: httpx.AsyncClient, path: str, params: list[tuple[str, Any]] | None = None,
                       *, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES) -> list[dict[str, Any]]:
        """Every record of a list endpoint, paging with ``start-index``/``max-results`` until a short page."""
        records: list[dict[str, Any]] = []
        for page in range(max_pages):
            query = list(params or []) + [("start-index", page * page_size), ("max-results", page_size)]
            body = await self.request(client, "GET", path, params=query)
            items = _as_list(body, f"GET {path}")
            records.extend(i for i in items if isinstance(i, dict))
            if len(items) < page_size:
                break
        else:
            logger.warning("ilert GET {}: stopped after {} pages of {}", path, max_pages, page_size)
        return records


def _as_list(body: Any, what: str) -> list[Any]:
    if body is None:
        return []
    if isinstance(body, list):
        return body
    if isinstance(body, dict):  # tolerate an envelope, should one appear
        for key in ("items", "data", "results", "content"):
            if isinstance(body.get(key), list):
                return body[key]
    raise IlertError(f"ilert {what}: expected a JSON list, got {type(body).__name__}")


# --------------------------------------------------------------------------- record parsing


def _time(value: Any, tz: str | None = None) -> datetime | None:
    """An ISO 8601 string or epoch milliseconds as an aware datetime (naive: in ``tz``, else UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, timezone.utc)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        zone: Any = timezone.utc
        if tz:
            try:
                zone = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                zone = timezone.utc
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def _name_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        inner = value.get("service") if isinstance(value.get("service"), dict) else value
        name = inner.get("name")
        return str(name) if name else None
    return None


def _id_of(value: Any) -> str | None:
    if isinstance(value, dict):
        inner = value.get("service") if isinstance(value.get("service"), dict) else value
        if inner.get("id") is not None:
            return str(inner["id"])
    return None


def _incident(record: dict[str, Any], wanted: set[str]) -> OpenIncident | None:
    status = str(record.get("status") or "").upper()
    if status == "RESOLVED" or record.get("resolvedOn"):
        return None
    affected = record.get("affectedServices") or []
    if wanted and not any(_id_of(a) in wanted for a in affected):
        return None
    title = record.get("summary") or record.get("title")
    if not title:
        raise ValueError("incident without summary")
    return OpenIncident(
        id=str(record["id"]) if record.get("id") is not None else "",
        title=str(title),
        status=status.lower() or "investigating",
        services=[n for n in (_name_of(a) for a in affected) if n],
        started_at=_time(record.get("createdAt") or record.get("createdOn") or record.get("created")),
    )


def _alert(record: dict[str, Any]) -> OpenIncident | None:
    status = str(record.get("status") or "").upper()
    if status == "RESOLVED":
        return None
    title = record.get("summary")
    if not title:
        raise ValueError("alert without summary")
    key = record.get("alertKey")
    return OpenIncident(
        id=f"alert-{record['id']}" if record.get("id") is not None else "",
        title=str(title),
        status=status.lower() or "new",
        started_at=_time(record.get("reportTime") or record.get("createdAt")),
        dedup_key=key if isinstance(key, str) and key else None,
    )


def _service(record: dict[str, Any], wanted: set[str]) -> ServiceState | None:
    if wanted and str(record.get("id")) not in wanted:
        return None
    status = _SERVICE_STATUS.get(str(record.get("status") or "").upper())
    name = record.get("name")
    if not name or status is None:
        raise ValueError(f"service without name or with unknown status {record.get('status')!r}")
    return ServiceState(service=str(name), status=status, description=str(record.get("description") or ""))


def _maintenance(record: dict[str, Any], wanted: set[str], now: datetime) -> MaintenanceWindow | None:
    tz = record.get("timezone")
    start, end = _time(record.get("start"), tz), _time(record.get("end"), tz)
    if start is None or end is None:
        raise ValueError("maintenance window without start or end")
    if not (start <= now <= end):
        return None
    services = record.get("services") or []
    if wanted and not any(_id_of(s) in wanted for s in services):
        return None
    summary = record.get("summary") or record.get("description")
    if not summary:
        raise ValueError("maintenance window without summary")
    return MaintenanceWindow(summary=str(summary), services=[n for n in (_name_of(s) for s in services) if n], start=start, end=end)


def _each(records: list[dict[str, Any]], parse: Any, what: str, *args: Any) -> list[Fact]:
    """Parse every record; one that cannot be read is skipped (and logged), the others kept."""
    facts: list[Fact] = []
    for record in records:
        try:
            fact = parse(record, *args)
        except Exception as exc:
            logger.warning("ilert {} record {} skipped: {!r}", what, record.get("id", "?"), exc)
            continue
        if fact is not None:
            facts.append(fact)
    return facts


# --------------------------------------------------------------------------- enrichment


class IlertSource:
    """What ilert knows right now: open incidents, service states, active maintenance, open alerts."""

    cache_ttl_s = 15.0  # facts about systems, shared across calls (agent.sources.FactCache)

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        information: list[Information] = Field(
            default_factory=lambda: ["incidents", "services", "maintenance"],
            description="What to fetch: incidents, services, maintenance, alerts.",
        )
        include_alerts: bool = Field(False, description="Also report open alerts (NEW, ACCEPTED) as incidents.")
        services: list[str] = Field(default_factory=list, description="Only these ilert service ids (empty: all).")
        disclose: bool = Field(True, description="Whether callers may be told these facts.")
        max_pages: int = Field(MAX_PAGES, ge=1, le=100)

    name = "ilert"

    def __init__(self, config: Config, context: SourceContext) -> None:
        self.config = config
        self.api = _Api(context)
        self.wanted = {str(s) for s in config.services}

    async def fetch(self, call: Any) -> list[Fact]:
        now = getattr(call, "now", None) or datetime.now(timezone.utc)
        info = set(self.config.information) | ({"alerts"} if self.config.include_alerts else set())
        async with self.api.client() as client:
            jobs: list[Any] = []
            if "incidents" in info:
                params = [("services", s) for s in sorted(self.wanted)]
                jobs.append(self._facts(client, "/api/incidents", params, _incident, "incident", self.wanted))
            if "services" in info:
                jobs.append(self._facts(client, "/api/services", [], _service, "service", self.wanted))
            if "maintenance" in info:
                jobs.append(self._facts(client, "/api/maintenance-windows", [], _maintenance, "maintenance window", self.wanted, now))
            if "alerts" in info:
                params = [("states", "NEW"), ("states", "ACCEPTED")]
                jobs.append(self._facts(client, "/api/alerts", params, _alert, "alert"))
            results = await asyncio.gather(*jobs)
        facts = [fact for group in results for fact in group]
        for fact in facts:
            fact.disclose = self.config.disclose
        return facts

    async def _facts(self, client: httpx.AsyncClient, path: str, params: list[tuple[str, Any]], parse: Any, what: str, *args: Any) -> list[Fact]:
        records = await self.api.get_list(client, path, params, max_pages=self.config.max_pages)
        return _each(records, parse, what, *args)


# --------------------------------------------------------------------------- on-call directory


def _phone(value: Any, region: str) -> str | None:
    """A user's number as E.164: a string, or an object with ``number`` (and ``regionCode``)."""
    if isinstance(value, dict):
        region = str(value.get("regionCode") or value.get("region") or region)
        value = value.get("number") or value.get("phoneNumber")
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = phonenumbers.parse(value, None if value.strip().startswith("+") else region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _user_number(user: dict[str, Any], region: str) -> str | None:
    for key in ("mobile", "landline", "phone", "phoneNumber"):
        number = _phone(user.get(key), region)
        if number:
            return number
    for entry in user.get("phoneNumbers") or []:
        number = _phone(entry, region)
        if number:
            return number
    return None


def _user_name(user: dict[str, Any]) -> str:
    full = " ".join(str(user[k]).strip() for k in ("firstName", "lastName") if user.get(k)).strip()
    return full or str(user.get("username") or user.get("email") or f"ilert user {user.get('id', '?')}")


class IlertDirectory:
    """Who is on call now for an escalation policy, a schedule or a user, by escalation level."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    name = "ilert"
    _FILTERS: ClassVar[dict[str, str]] = {"escalation_policy": "policies", "on_call_schedule": "schedules", "user": "users"}

    def __init__(self, config: Any, context: SourceContext) -> None:
        self.api = _Api(context)

    async def on_call(self, target: Any, call: Any) -> list[OnCallShift]:
        param = self._FILTERS.get(target.type)
        if param is None:
            return []
        async with self.api.client() as client:
            body = await self.api.request(client, "GET", "/api/on-calls", params=[(param, target.id), ("expand", "user")])
            entries = [e for e in _as_list(body, "GET /api/on-calls") if isinstance(e, dict)]
            if not entries and target.type == "user":
                user = await self.api.request(client, "GET", f"/api/users/{target.id}")
                entries = [{"user": user, "escalationLevel": 1}] if isinstance(user, dict) else []

        def level(entry: dict[str, Any]) -> float:
            try:
                return float(entry.get("escalationLevel"))
            except (TypeError, ValueError):
                return float("inf")

        shifts: list[OnCallShift] = []
        seen: set[str] = set()
        for entry in sorted(entries, key=level):
            user = entry.get("user")
            if not isinstance(user, dict):
                continue
            number = _user_number(user, self.api.region)
            if not number:
                logger.info("ilert on-call user {} has no usable phone number; skipped", user.get("id", "?"))
                continue
            if number in seen:
                continue
            seen.add(number)
            shifts.append(OnCallShift(schedule=str(target.id), name=_user_name(user), number=number, source="ilert"))
        return shifts


# --------------------------------------------------------------------------- alert platform


class IlertAlerts:
    """Opens (or updates, by ``alertKey``) an alert through ilert's events API."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    name = "ilert"

    def __init__(self, config: Any, context: SourceContext) -> None:
        key = context.settings.ilert_alert_source_key
        self.key = key.get_secret_value() if key else ""
        self.api = _Api(context, need_key=False, send_key=False)  # the body's apiKey authenticates

    async def open_alert(self, alert: Alert, call: Any) -> AlertReceipt:
        details = json.loads(json.dumps(alert.fields, default=str))
        if alert.transcript:
            details["transcript"] = alert.transcript
        answer = await self._event(alert, alert.details, details, alert.links, alert.dedup_key)
        return AlertReceipt(
            platform="ilert",
            key=str(answer.get("alertKey") or alert.dedup_key or "") or None,
            url=answer.get("alertUrl") or None,
        )

    async def add_note(self, alert: Alert, note: AlertNote) -> None:
        """A second ALERT event with the same ``alertKey``: ilert adds it to the open alert's log."""
        key = alert.receipt.key if alert.receipt and alert.receipt.key else alert.dedup_key
        if not key:
            raise IlertError("ilert POST /api/events: the alert has no alertKey to add a note to")
        await self._event(alert, note.text, {"note": note.text}, note.links, key)

    async def _event(self, alert: Alert, details: str, custom: dict[str, Any], links: list[AlertLink], key: str | None) -> dict[str, Any]:
        if not self.key:
            raise IlertError("ilert POST /api/events: no alert source key: set VOICE_AGENT_ILERT_ALERT_SOURCE_KEY")
        body: dict[str, Any] = {
            "apiKey": self.key,
            "eventType": "ALERT",
            "summary": alert.summary,
            "details": details,
            "priority": "LOW" if str(alert.priority).lower() == "low" else "HIGH",
            "customDetails": custom,
        }
        if links:
            body["links"] = [{"href": link.href, "text": link.text} for link in links]
        if key:
            body["alertKey"] = key
        async with self.api.client() as client:
            answer = await self.api.request(client, "POST", "/api/events", json=body)
        return answer if isinstance(answer, dict) else {}


@hookimpl
def register_enrichment_sources(register):
    register("ilert", IlertSource)


@hookimpl
def register_alert_platforms(register):
    register("ilert", IlertAlerts)


@hookimpl
def register_oncall_directories(register):
    register("ilert", IlertDirectory)
