"""ilert: enrichment (incidents, services, maintenance, alerts, status pages), alert creation and on-call routing.

One module, three roles, all named ``ilert`` in flows::

    enrichment:
      sources:
        - type: ilert
          information: [incidents, services, maintenance, status_pages]   # and/or alerts
          services: ["1234"]        # optional: only these service ids
          status_pages: ["42"]      # optional: only these status page ids
    ...
    type: create_alert
    platform: {type: ilert}
    ...
    type: route_call
    on_call: {type: ilert}
    targets: [{type: escalation_policy, id: "123"}]

The contract is ilert's published OpenAPI spec (v2.2026.3-r.4; a trimmed copy
is ``tests/contracts/ilert/openapi.json``, and the tests check every request
this module sends and every fixture it reads against it). What is read where:

- ``GET /api/incidents?states=INVESTIGATING&states=IDENTIFIED&states=MONITORING``
  (``services=<id>`` when filtered; 100 a page): open status-page incidents.
- ``GET /api/alerts?states=PENDING&states=ACCEPTED`` (100 a page): open alerts.
- ``GET /api/services`` (100 a page; the spec declares no filter, so
  configured service ids are picked from the pages): service states.
- ``GET /api/maintenance-windows?state=OPEN`` (``services=<id>`` when filtered;
  100 a page): the windows running now.
- ``GET /api/status-pages`` (50 a page), or ``GET /api/status-pages/{id}`` per
  configured id: each page's status and its services' states.
- ``GET /api/on-calls?policies|schedules|users=<id>&expand=user`` (250 a page),
  then each on-call user's contacts ``GET /api/users/{id}/contacts/phone-numbers``,
  fetched concurrently: the user object carries no phone number. The primary
  contact with status ``OK`` is dialled first, else another ``OK`` one; numbers
  that are ``LOCKED`` or ``BLACKLISTED`` never. ``target`` is read in the
  contact's ``regionCode`` (else the user's ``region``, else
  ``VOICE_AGENT_DEFAULT_REGION``) and dialled as E.164.
- ``POST /api/events`` with ``integrationKey``, ``eventType``, ``summary``,
  ``details``, ``alertKey``, ``priority``, ``links``, ``customDetails``. ilert
  answers ``202`` without a declared body: the receipt's key is the
  ``alertKey`` sent (one is made up for an alert without a dedup key), and it
  has no URL.

List endpoints are filtered on ilert's side (open states, services) and paged
with ``start-index``/``max-results`` up to the spec's maximum per endpoint, so
open records are not cut off on a large account; at most ``max_pages`` pages
are read per endpoint (a warning says when that cap was hit).

Settings (:class:`IlertSettings`, env vars or ``.env``):
``VOICE_AGENT_ILERT_BASE_URL`` (EU/US region), ``VOICE_AGENT_ILERT_API_KEY``
(an API token: ``Authorization: Bearer <token>``; read access to what the
flow asks for: incidents, services, maintenance windows, alerts, status
pages, on-calls and users' contacts), ``VOICE_AGENT_ILERT_ALERT_SOURCE_KEY``
(the integration key of the alert source that calls open alerts in; sent as
``integrationKey`` in ``POST /api/events``); and the agent's
``VOICE_AGENT_HTTP_TIMEOUT_S`` (every request's limit).

Every failed request (HTTP 401/403/429/4xx/5xx, a timeout, a body that is not
the expected JSON) is an :class:`IlertError` with what went wrong. The
enrichment source keeps what the other endpoints answered when one fails (the
failure is logged by endpoint) and raises only when every endpoint failed, so
the framework drops the source and the call goes on. Single records with
missing or unexpected fields are skipped, the rest kept.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal

import httpx
import phonenumbers
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from agent.plugin_api import (
    Alert,
    AlertLink,
    AlertNote,
    AlertReceipt,
    Fact,
    MaintenanceWindow,
    OnCallShift,
    OpenIncident,
    PluginContext,
    PluginSettings,
    ServiceState,
    SettingsConfigDict,
    StatusPageEntry,
    hookimpl,
)

MAX_PAGES = 10

# Each list endpoint's `max-results` maximum in ilert's OpenAPI spec (v2.2026.3-r.4).
PAGE_SIZE = {
    "/api/incidents": 100,
    "/api/alerts": 100,
    "/api/services": 100,
    "/api/maintenance-windows": 100,
    "/api/status-pages": 50,
    "/api/on-calls": 250,
}

# The spec's enums: ServiceStatus, IncidentStatus, Alert.status, ContactStatus.
_SERVICE_STATUS = {
    "OPERATIONAL": "operational",
    "DEGRADED": "degraded",
    "PARTIAL_OUTAGE": "partial_outage",
    "MAJOR_OUTAGE": "major_outage",
    "UNDER_MAINTENANCE": "under_maintenance",
}
_SPOKEN = {
    "degraded": "is running with degraded performance",
    "partial_outage": "has a partial outage",
    "major_outage": "has a major outage",
    "under_maintenance": "is under maintenance",
}
OPEN_INCIDENT_STATES = ("INVESTIGATING", "IDENTIFIED", "MONITORING")
OPEN_ALERT_STATES = ("PENDING", "ACCEPTED")
CONTACT_OK = "OK"
CONTACT_UNUSABLE = {"LOCKED", "BLACKLISTED"}

Information = Literal["incidents", "services", "maintenance", "alerts", "status_pages"]


class IlertSettings(PluginSettings):
    """ilert's keys and API (``VOICE_AGENT_ILERT_*``)."""

    model_config = SettingsConfigDict(env_prefix="VOICE_AGENT_ILERT_")
    title = "ilert"

    api_key: SecretStr | None = Field(None, description="ilert API token (read incidents, services, on-call).")
    base_url: str = Field("https://api.ilert.com", description="ilert API; EU and US regions differ.")
    alert_source_key: SecretStr | None = Field(None, description="Integration key of the ilert alert source calls open alerts in.")


class IlertError(RuntimeError):
    """A request to ilert that failed; the message says which and why."""


def _numeric_ids(values: list[str], what: str) -> list[str]:
    ids = [str(v).strip() for v in values]
    bad = [v for v in ids if not v.isdigit()]
    if bad:
        raise ValueError(f"ilert {what} ids are numbers (the ones in the ilert web app's URLs), got {bad}")
    return ids


# --------------------------------------------------------------------------- HTTP


class _Api:
    """A thin client: base URL, auth and timeout from the settings, errors as :class:`IlertError`."""

    def __init__(self, context: PluginContext, *, need_key: bool = True, send_key: bool = True) -> None:
        settings = context.plugin_settings(IlertSettings)
        self.context = context
        self.base_url = settings.base_url.rstrip("/")
        self.timeout = context.settings.http_timeout_s
        self.region = context.settings.default_region
        key = settings.secret("api_key")
        # A missing key fails the request, not the flow check: flows stay checkable without secrets.
        self.missing = settings.missing("api_key", "ilert API key") if need_key else None
        self.headers = {"Accept": "application/json"}
        if key and send_key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.key_names = " / ".join(IlertSettings.env_var(f) for f in ("api_key", "alert_source_key"))

    def client(self) -> httpx.AsyncClient:
        return self.context.http_client(base_url=self.base_url, headers=self.headers, timeout=self.timeout)

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
                f"(check {self.key_names})"
            )
        if status == 429:
            retry = response.headers.get("Retry-After")
            raise IlertError(f"ilert {what} answered 429: rate limited" + (f" (retry after {retry} s)" if retry else ""))
        if status >= 500:
            raise IlertError(f"ilert {what} answered {status}: server error")
        if status >= 400:
            raise IlertError(f"ilert {what} answered {status}: {response.text[:200]}")
        if status in (202, 204) or not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            raise IlertError(f"ilert {what} answered {status} with a body that is not JSON: {response.text[:80]!r}") from exc

    async def get_object(self, client: httpx.AsyncClient, path: str) -> dict[str, Any]:
        body = await self.request(client, "GET", path)
        if not isinstance(body, dict):
            raise IlertError(f"ilert GET {path}: expected a JSON object, got {type(body).__name__}")
        return body

    async def get_list(self, client: httpx.AsyncClient, path: str, params: list[tuple[str, Any]] | None = None,
                       *, max_pages: int = MAX_PAGES) -> list[dict[str, Any]]:
        """Every record of a list endpoint, paging with ``start-index``/``max-results`` until a short page."""
        page_size = PAGE_SIZE[path]
        records: list[dict[str, Any]] = []
        for page in range(max_pages):
            query = list(params or []) + [("start-index", page * page_size), ("max-results", page_size)]
            body = await self.request(client, "GET", path, params=query)
            if not isinstance(body, list):
                raise IlertError(f"ilert GET {path}: expected a JSON list, got {type(body).__name__}")
            records.extend(i for i in body if isinstance(i, dict))
            if len(body) < page_size:
                break
        else:
            logger.warning("ilert GET {}: stopped after {} pages of {} (max_pages); later records are not read", path, max_pages, page_size)
        return records

    async def get_each(self, client: httpx.AsyncClient, template: str, ids: list[str]) -> list[dict[str, Any]]:
        """``GET template.format(id)`` for every id at once; one that fails is logged and left out, all failing raise."""
        answers = await asyncio.gather(*(self.get_object(client, template.format(i)) for i in ids), return_exceptions=True)
        failures = [a for a in answers if isinstance(a, BaseException)]
        for failure in failures:
            if not isinstance(failure, IlertError):
                raise failure
            logger.warning("{}; left out", failure)
        if failures and len(failures) == len(answers):
            raise IlertError("; ".join(str(f) for f in failures))
        return [a for a in answers if isinstance(a, dict)]


# --------------------------------------------------------------------------- record parsing


def _time(value: Any) -> datetime | None:
    """A ``date-time`` (RFC 3339, with its offset) as an aware datetime; absent is None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date-time: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        raise ValueError(f"a date-time without an offset: {value!r}")
    return parsed


def _id(value: Any) -> str | None:
    """An entity id (a JSON number) as the digits a flow names it by."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return str(int(value))


def _service_of(entry: Any) -> dict[str, Any]:
    """The service of an incident's ``affectedServices`` entry (``{impact, service}``)."""
    service = entry.get("service") if isinstance(entry, dict) else None
    return service if isinstance(service, dict) else {}


def _names(services: list[dict[str, Any]]) -> list[str]:
    return [str(s["name"]) for s in services if isinstance(s.get("name"), str) and s["name"]]


def _incident(record: dict[str, Any], wanted: set[str]) -> OpenIncident | None:
    status = str(record.get("status") or "").upper()
    if status == "RESOLVED" or record.get("resolvedOn"):
        return None
    affected = [_service_of(a) for a in record.get("affectedServices") or []]
    if wanted and not any(_id(s.get("id")) in wanted for s in affected):
        return None
    title = record.get("summary")
    if not title:
        raise ValueError("incident without summary")
    return OpenIncident(
        id=_id(record.get("id")) or "",
        title=str(title),
        status=status.lower() or "investigating",
        services=_names(affected),
        started_at=_time(record.get("createdAt")),
    )


def _alert(record: dict[str, Any]) -> OpenIncident | None:
    status = str(record.get("status") or "").upper()
    if status not in OPEN_ALERT_STATES:
        return None
    title = record.get("summary")
    if not title:
        raise ValueError("alert without summary")
    key = record.get("alertKey")
    alert_id = _id(record.get("id"))
    return OpenIncident(
        id=f"alert-{alert_id}" if alert_id else "",
        title=str(title),
        status=status.lower(),
        started_at=_time(record.get("reportTime")),
        dedup_key=key if isinstance(key, str) and key else None,
    )


def _service_state(record: dict[str, Any]) -> ServiceState:
    status = _SERVICE_STATUS.get(str(record.get("status") or ""))
    name = record.get("name")
    if not name or status is None:
        raise ValueError(f"service without name or with unknown status {record.get('status')!r}")
    description = record.get("description")
    return ServiceState(service=str(name), status=status, description=description if isinstance(description, str) else "")


def _service(record: dict[str, Any], wanted: set[str]) -> ServiceState | None:
    if wanted and _id(record.get("id")) not in wanted:
        return None
    return _service_state(record)


def _maintenance(record: dict[str, Any], wanted: set[str], now: datetime) -> MaintenanceWindow | None:
    start, end = _time(record.get("start")), _time(record.get("end"))
    if start is None or end is None:
        raise ValueError("maintenance window without start or end")
    if not (start <= now <= end):
        return None  # state=OPEN includes the upcoming ones
    services = [s for s in record.get("services") or [] if isinstance(s, dict)]
    if wanted and not any(_id(s.get("id")) in wanted for s in services):
        return None
    summary = record.get("summary") or record.get("description")
    if not summary:
        raise ValueError("maintenance window without summary")
    return MaintenanceWindow(summary=str(summary), services=_names(services), start=start, end=end)


def _status_page(record: dict[str, Any], wanted: set[str]) -> list[Fact]:
    """A status page (StatusPageList / StatusPage): its overall status and its services' states."""
    name = record.get("name")
    if not name:
        raise ValueError("status page without name")
    states: list[ServiceState] = []
    for service in record.get("services") or []:
        if not isinstance(service, dict) or (wanted and _id(service.get("id")) not in wanted):
            continue
        try:
            states.append(_service_state(service))
        except ValueError as exc:
            logger.warning("ilert status page {} service {} skipped: {!r}", record.get("id", "?"), service.get("id", "?"), exc)
    troubled = [s for s in states if s.status != "operational"]
    message = "; ".join(f"{s.service} {_SPOKEN[s.status]}" for s in troubled)
    status = _SERVICE_STATUS.get(str(record.get("status") or ""), "unknown")  # `status` is optional in the spec
    page = StatusPageEntry(page=str(name), status=status, message=message, components=[s.service for s in troubled])
    return [page, *states]


def _each(records: list[dict[str, Any]], parse: Any, what: str, *args: Any) -> list[Fact]:
    """Parse every record; one that cannot be read is skipped (and logged), the others kept."""
    facts: list[Fact] = []
    for record in records:
        try:
            fact = parse(record, *args)
        except Exception as exc:
            logger.warning("ilert {} record {} skipped: {!r}", what, record.get("id", "?"), exc)
            continue
        if isinstance(fact, list):
            facts.extend(fact)
        elif fact is not None:
            facts.append(fact)
    return facts


# --------------------------------------------------------------------------- enrichment


class IlertSource:
    """What ilert knows right now: open incidents, service states, active maintenance, open alerts, status pages."""

    cache_ttl_s = 15.0  # facts about systems, shared across calls (agent.core.sources.SharedCache)

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        information: list[Information] = Field(
            default_factory=lambda: ["incidents", "services", "maintenance"],
            description="What to fetch: incidents, services, maintenance, alerts, status_pages.",
        )
        include_alerts: bool = Field(False, description="Also report open alerts (PENDING, ACCEPTED) as incidents.")
        services: list[str] = Field(default_factory=list, description="Only these ilert service ids (empty: all).")
        status_pages: list[str] = Field(default_factory=list, description="Only these ilert status page ids (empty: all).")
        disclose: bool = Field(True, description="Whether callers may be told these facts.")
        max_pages: int = Field(MAX_PAGES, ge=1, le=100, description="At most this many pages per list endpoint.")

        @field_validator("services")
        @classmethod
        def _service_ids(cls, value: list[str]) -> list[str]:
            return _numeric_ids(value, "service")

        @field_validator("status_pages")
        @classmethod
        def _page_ids(cls, value: list[str]) -> list[str]:
            return _numeric_ids(value, "status page")

    name = "ilert"

    def __init__(self, config: Config, context: PluginContext) -> None:
        self.config = config
        self.api = _Api(context)
        self.wanted = set(config.services)

    async def fetch(self, call: Any) -> list[Fact]:
        now = getattr(call, "now", None) or datetime.now(timezone.utc)
        info = set(self.config.information) | ({"alerts"} if self.config.include_alerts else set())
        by_service = [("services", s) for s in sorted(self.wanted, key=int)]
        async with self.api.client() as client:
            jobs: dict[str, Any] = {}
            if "incidents" in info:
                params = [("states", s) for s in OPEN_INCIDENT_STATES] + by_service
                jobs["incidents"] = self._list(client, "/api/incidents", params, _incident, "incident", self.wanted)
            if "services" in info:  # the spec declares no filter here: the wanted ones are picked from the pages
                jobs["services"] = self._list(client, "/api/services", [], _service, "service", self.wanted)
            if "maintenance" in info:
                params = [("state", "OPEN"), *by_service]
                jobs["maintenance"] = self._list(client, "/api/maintenance-windows", params, _maintenance, "maintenance window", self.wanted, now)
            if "alerts" in info:
                params = [("states", s) for s in OPEN_ALERT_STATES]
                jobs["alerts"] = self._list(client, "/api/alerts", params, _alert, "alert")
            if "status_pages" in info:
                if self.config.status_pages:
                    jobs["status_pages"] = self._each(client, "/api/status-pages/{}", self.config.status_pages, _status_page, "status page", self.wanted)
                else:
                    jobs["status_pages"] = self._list(client, "/api/status-pages", [], _status_page, "status page", self.wanted)
            results = await asyncio.gather(*jobs.values(), return_exceptions=True)
        facts: list[Fact] = []
        failures: list[str] = []
        for name, result in zip(jobs, results):
            if isinstance(result, IlertError):
                logger.warning("ilert {}: left out: {}", name, result)
                failures.append(str(result))
            elif isinstance(result, BaseException):
                raise result
            else:
                facts.extend(result)
        if jobs and len(failures) == len(jobs):
            raise IlertError("; ".join(failures))
        kept: list[Fact] = []
        states: set[str] = set()
        for fact in facts:
            if isinstance(fact, ServiceState):  # a service on a status page is also in /api/services: once
                if fact.key() in states:
                    continue
                states.add(fact.key())
            fact.disclose = self.config.disclose
            kept.append(fact)
        return kept

    async def _list(self, client: httpx.AsyncClient, path: str, params: list[tuple[str, Any]], parse: Any, what: str, *args: Any) -> list[Fact]:
        records = await self.api.get_list(client, path, params, max_pages=self.config.max_pages)
        return _each(records, parse, what, *args)

    async def _each(self, client: httpx.AsyncClient, template: str, ids: list[str], parse: Any, what: str, *args: Any) -> list[Fact]:
        records = await self.api.get_each(client, template, ids)
        return _each(records, parse, what, *args)


# --------------------------------------------------------------------------- on-call directory


def _phone(value: Any, region: str) -> str | None:
    """A number as E.164, read in ``region`` when it has no ``+``; None when it is not a possible number."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = phonenumbers.parse(value, None if value.strip().startswith("+") else (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _dial_number(contacts: list[Any], region: str) -> str | None:
    """The number to dial from a user's ContactPhoneNumber list: primary and OK first, then another OK one.

    A contact whose ``status`` is LOCKED or BLACKLISTED is never dialled; one
    without a status comes after the OK ones.
    """
    usable = [c for c in contacts if isinstance(c, dict) and c.get("status") not in CONTACT_UNUSABLE]
    usable.sort(key=lambda c: (c.get("status") != CONTACT_OK, c.get("primary") is not True))
    for contact in usable:
        region_code = contact.get("regionCode")
        number = _phone(contact.get("target"), region_code if isinstance(region_code, str) and region_code else region)
        if number:
            return number
    return None


def _user_name(user: dict[str, Any]) -> str:
    full = " ".join(str(user[k]).strip() for k in ("firstName", "lastName") if user.get(k)).strip()
    return full or str(user.get("email") or f"ilert user {user.get('id', '?')}")


class IlertDirectory:
    """Who is on call now for an escalation policy, a schedule or a user, by escalation level."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    name = "ilert"
    _FILTERS: ClassVar[dict[str, str]] = {"escalation_policy": "policies", "on_call_schedule": "schedules", "user": "users"}

    def __init__(self, config: Any, context: PluginContext) -> None:
        self.api = _Api(context)

    async def on_call(self, target: Any, call: Any) -> list[OnCallShift]:
        param = self._FILTERS.get(target.type)
        if param is None:
            return []
        target_id = str(target.id).strip()
        if not target_id.isdigit():
            raise IlertError(f"ilert {target.type} ids are numbers, got {target.id!r}")
        async with self.api.client() as client:
            entries = await self.api.get_list(client, "/api/on-calls", [(param, target_id), ("expand", "user")], max_pages=4)
            users = self._users_by_level(entries)
            if not users and target.type == "user":
                users = [await self.api.get_object(client, f"/api/users/{target_id}")]
            contacts = await asyncio.gather(*(self._contacts(client, u) for u in users), return_exceptions=True)

        failed = [c for c in contacts if isinstance(c, BaseException)]
        for failure in failed:
            if not isinstance(failure, IlertError):
                raise failure
        if users and len(failed) == len(users):
            raise IlertError("; ".join(str(f) for f in failed))
        shifts: list[OnCallShift] = []
        seen: set[str] = set()
        for user, answer in zip(users, contacts):
            if isinstance(answer, BaseException):
                logger.warning("ilert on-call user {} skipped: {}", user.get("id", "?"), answer)
                continue
            region = user.get("region") if isinstance(user.get("region"), str) else self.api.region
            number = _dial_number(answer, region)
            if not number:
                logger.info("ilert on-call user {} has no usable phone number contact; skipped", user.get("id", "?"))
                continue
            if number in seen:
                continue
            seen.add(number)
            shifts.append(OnCallShift(schedule=target_id, name=_user_name(user), number=number, source="ilert"))
        return shifts

    @staticmethod
    def _users_by_level(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The on-call users, lowest escalation level first, each once."""

        def level(entry: dict[str, Any]) -> float:
            value = entry.get("escalationLevel")
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("inf")

        users: list[dict[str, Any]] = []
        seen: set[str] = set()
        for entry in sorted(entries, key=level):
            user = entry.get("user")
            user_id = _id(user.get("id")) if isinstance(user, dict) else None
            if user_id is None:
                logger.info("ilert on-call entry without a user id; skipped")
                continue
            if user_id not in seen:
                seen.add(user_id)
                users.append(user)  # type: ignore[arg-type]
        return users

    async def _contacts(self, client: httpx.AsyncClient, user: dict[str, Any]) -> list[Any]:
        path = f"/api/users/{_id(user.get('id'))}/contacts/phone-numbers"
        body = await self.api.request(client, "GET", path)
        if not isinstance(body, list):
            raise IlertError(f"ilert GET {path}: expected a JSON list, got {type(body).__name__}")
        return body


# --------------------------------------------------------------------------- alert platform


class IlertAlerts:
    """Opens (or updates, by ``alertKey``) an alert through ilert's events API."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    name = "ilert"

    def __init__(self, config: Any, context: PluginContext) -> None:
        settings = context.plugin_settings(IlertSettings)
        self.key = settings.secret("alert_source_key") or ""
        self.missing = settings.missing("alert_source_key", "alert source key")
        self.api = _Api(context, need_key=False, send_key=False)  # the body's integrationKey authenticates

    async def open_alert(self, alert: Alert, call: Any) -> AlertReceipt:
        details = json.loads(json.dumps(alert.fields, default=str))
        if alert.transcript:
            details["transcript"] = alert.transcript
        # ilert answers 202 with no declared body: the key we send is the one later notes use.
        key = alert.dedup_key or f"voice-agent:{getattr(call, 'call_id', None) or uuid.uuid4().hex}"
        await self._event(alert, alert.details, details, alert.links, key)
        return AlertReceipt(platform="ilert", key=key)

    async def add_note(self, alert: Alert, note: AlertNote) -> None:
        """A second ALERT event with the same ``alertKey``: ilert appends it to the open alert's event log."""
        key = alert.receipt.key if alert.receipt and alert.receipt.key else alert.dedup_key
        if not key:
            raise IlertError("ilert POST /api/events: the alert has no alertKey to add a note to")
        await self._event(alert, note.text, {"note": note.text}, note.links, key)

    async def _event(self, alert: Alert, details: str, custom: dict[str, Any], links: list[AlertLink], key: str) -> None:
        if not self.key:
            raise IlertError(f"ilert POST /api/events: {self.missing}")
        body: dict[str, Any] = {
            "integrationKey": self.key,
            "eventType": "ALERT",
            "summary": alert.summary,
            "details": details,
            "alertKey": key,
            "priority": "LOW" if str(alert.priority).lower() == "low" else "HIGH",
            "customDetails": custom,
        }
        if links:
            body["links"] = [{"href": link.href, "text": link.text} for link in links]
        async with self.api.client() as client:
            await self.api.request(client, "POST", "/api/events", json=body)


@hookimpl
def register_enrichment_sources(register):
    register("ilert", IlertSource)


@hookimpl
def register_alert_platforms(register):
    register("ilert", IlertAlerts)


@hookimpl
def register_oncall_directories(register):
    register("ilert", IlertDirectory)
