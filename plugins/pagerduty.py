"""PagerDuty: what is already going on, who is on call, and where calls open alerts.

One module, three roles, all named ``pagerduty``:

* enrichment source: open (triggered / acknowledged) incidents from
  ``GET /incidents`` and service states from ``GET /services``;
* on-call directory: ``GET /oncalls`` for an escalation policy, schedule or
  user target, then each person's phone from ``GET /users/{id}/contact_methods``;
* alert platform: a ``trigger`` event to the Events API v2 (``POST /v2/enqueue``).

Settings (:class:`PagerDutySettings`, env vars or ``.env``):
``VOICE_AGENT_PAGERDUTY_API_KEY`` (a read-only REST API key is enough),
``VOICE_AGENT_PAGERDUTY_ROUTING_KEY`` (an Events API v2 integration key, for
alerts), ``VOICE_AGENT_PAGERDUTY_BASE_URL``, ``VOICE_AGENT_PAGERDUTY_EVENTS_URL``;
and the agent's ``VOICE_AGENT_HTTP_TIMEOUT_S``.

Records the plugin cannot read (missing ids, names, unknown statuses,
numbers that do not parse) are skipped and logged; answers it cannot use
(401, 403, 429, 5xx, timeouts, malformed JSON) raise :class:`PagerDutyError`
with what went wrong, and the call goes on without them.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx
import phonenumbers
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from agent.plugin_api import (
    Alert,
    AlertNote,
    AlertReceipt,
    Fact,
    OnCallShift,
    OpenIncident,
    PluginContext,
    PluginSettings,
    ServiceState,
    SettingsConfigDict,
    hookimpl,
)

ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_LIMIT = 100

# PagerDuty service status -> ServiceState status; `disabled` services are left out (nobody watches them).
SERVICE_STATUS = {
    "active": "operational",
    "warning": "degraded",
    "critical": "major_outage",
    "maintenance": "under_maintenance",
}
PHONE_TYPES = ("phone_contact_method", "sms_contact_method")
TARGET_FILTERS = {
    "escalation_policy": "escalation_policy_ids[]",
    "on_call_schedule": "schedule_ids[]",
    "user": "user_ids[]",
}


class PagerDutySettings(PluginSettings):
    """PagerDuty's keys and APIs (``VOICE_AGENT_PAGERDUTY_*``)."""

    model_config = SettingsConfigDict(env_prefix="VOICE_AGENT_PAGERDUTY_")
    title = "PagerDuty"

    api_key: SecretStr | None = Field(None, description="PagerDuty REST API key (read-only is enough).")
    base_url: str = "https://api.pagerduty.com"
    events_url: str = "https://events.pagerduty.com"
    routing_key: SecretStr | None = Field(None, description="Events API v2 integration (routing) key.")


class PagerDutyError(RuntimeError):
    """PagerDuty answered something the plugin cannot use (or did not answer in time)."""


def _describe(response: httpx.Response, what: str) -> str:
    status = response.status_code
    if status == 401:
        return f"{what}: PagerDuty rejected the key (401 Unauthorized); check the configured key"
    if status == 403:
        return f"{what}: the key may not read this (403 Forbidden)"
    if status == 429:
        retry = response.headers.get("retry-after") or response.headers.get("ratelimit-reset")
        return f"{what}: rate limited by PagerDuty (429)" + (f", retry after {retry}s" if retry else "")
    if status >= 500:
        return f"{what}: PagerDuty server error ({status})"
    detail = ""
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            detail = str(error.get("message") or "")
        elif isinstance(body, dict):
            detail = str(body.get("message") or "")
    except ValueError:
        pass
    return f"{what}: unexpected answer {status}" + (f" ({detail})" if detail else "")


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise PagerDutyError(f"{what}: PagerDuty answered malformed JSON") from exc
    if not isinstance(body, dict):
        raise PagerDutyError(f"{what}: PagerDuty answered {type(body).__name__}, expected a JSON object")
    return body


class _RestClient:
    """The REST API calls the source and the directory share."""

    def __init__(self, context: PluginContext) -> None:
        settings = context.plugin_settings(PagerDutySettings)
        self.context = context
        self.key = settings.secret("api_key")
        self.base_url = settings.base_url.rstrip("/")
        self.timeout = context.settings.http_timeout_s
        self.headers = {"Authorization": f"Token token={self.key}", "Accept": ACCEPT}

    def client(self) -> httpx.AsyncClient:
        # Checked per call, not when the flow is loaded: flows stay checkable (CI) without secrets.
        if not self.key:
            raise PagerDutyError(f"PagerDuty needs an API key: set {PagerDutySettings.env_var('api_key')} (a read-only REST key is enough)")
        return self.context.http_client(base_url=self.base_url, headers=self.headers, timeout=self.timeout)

    async def get(self, client: httpx.AsyncClient, path: str, params: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
        what = f"GET {path}"
        try:
            response = await client.get(path, params=params or [])
        except httpx.TimeoutException as exc:
            raise PagerDutyError(f"{what}: PagerDuty did not answer within {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise PagerDutyError(f"{what}: could not reach PagerDuty ({type(exc).__name__}: {exc})") from exc
        if response.status_code != 200:
            raise PagerDutyError(_describe(response, what))
        return _json(response, what)

    async def list(
        self, client: httpx.AsyncClient, path: str, key: str, params: list[tuple[str, Any]], max_pages: int
    ) -> list[dict[str, Any]]:
        """All records of a list endpoint, following ``offset``/``more`` for at most ``max_pages`` pages."""
        records: list[dict[str, Any]] = []
        offset = 0
        for page in range(max_pages):
            body = await self.get(client, path, [*params, ("limit", PAGE_LIMIT), ("offset", offset)])
            items = body.get(key)
            if not isinstance(items, list):
                raise PagerDutyError(f"GET {path}: the answer has no `{key}` list")
            records.extend(item for item in items if isinstance(item, dict))
            if body.get("more") is not True or not items:
                break
            offset += len(items)
        else:
            logger.warning("PagerDuty GET {}: stopped after {} pages; more records were left out", path, max_pages)
        return records


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _name(ref: Any) -> str | None:
    """A PagerDuty reference's human name (``summary``, or ``name`` on full objects)."""
    if isinstance(ref, dict):
        for key in ("summary", "name"):
            if isinstance(ref.get(key), str) and ref[key].strip():
                return ref[key].strip()
    return None


class PagerDutySource:
    """Open incidents and service states from PagerDuty's REST API."""

    cache_ttl_s = 15.0  # facts about systems, shared across calls (agent.core.sources.SharedCache)

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        service_ids: list[str] = Field(default_factory=list, description="Only these services (default: all).")
        incidents: bool = Field(True, description="Read triggered and acknowledged incidents.")
        services: bool = Field(True, description="Read service states.")
        aliases: dict[str, list[str]] = Field(default_factory=dict, description="Service name -> what callers call it.")
        disclose: bool = Field(True, description="Whether callers may be told these facts.")
        max_pages: int = Field(5, ge=1, le=50, description="At most this many pages of 100 records per list.")

    name = "pagerduty"

    def __init__(self, config: Config | None, context: PluginContext) -> None:
        self.config = config or self.Config()
        self.rest = _RestClient(context)

    async def fetch(self, call: Any) -> list[Fact]:
        jobs = []
        async with self.rest.client() as client:
            if self.config.incidents:
                jobs.append(self._incidents(client))
            if self.config.services:
                jobs.append(self._services(client))
            results = await asyncio.gather(*jobs, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and len(failures) == len(results):
            raise failures[0]
        for failure in failures:  # what the other list gave is still worth telling callers
            logger.warning("PagerDuty source: part left out: {}", failure)
        return [fact for facts in results if not isinstance(facts, BaseException) for fact in facts]

    async def _incidents(self, client: httpx.AsyncClient) -> list[Fact]:
        params: list[tuple[str, Any]] = [("statuses[]", "triggered"), ("statuses[]", "acknowledged")]
        params += [("service_ids[]", sid) for sid in self.config.service_ids]
        facts: list[Fact] = []
        for record in await self.rest.list(client, "/incidents", "incidents", params, self.config.max_pages):
            title = record.get("title") or record.get("summary")
            if not isinstance(title, str) or not title.strip():
                logger.debug("PagerDuty incident without a title skipped: {}", record.get("id"))
                continue
            number = record.get("incident_number")
            service = _name(record.get("service"))
            key = record.get("incident_key")
            facts.append(
                OpenIncident(
                    id=f"PD-{number}" if number is not None else str(record.get("id") or ""),
                    title=title.strip(),
                    status=str(record.get("status") or "triggered"),
                    services=[service] if service else [],
                    started_at=_time(record.get("created_at")),
                    url=record.get("html_url") if isinstance(record.get("html_url"), str) else None,
                    dedup_key=key if isinstance(key, str) and key else None,
                    disclose=self.config.disclose,
                )
            )
        return facts

    async def _services(self, client: httpx.AsyncClient) -> list[Fact]:
        wanted = set(self.config.service_ids)
        facts: list[Fact] = []
        for record in await self.rest.list(client, "/services", "services", [], self.config.max_pages):
            if wanted and record.get("id") not in wanted:
                continue
            name = _name(record)
            status = SERVICE_STATUS.get(str(record.get("status") or ""))
            if not name or status is None:
                if record.get("status") != "disabled":
                    logger.debug("PagerDuty service skipped: {} status {!r}", record.get("id"), record.get("status"))
                continue
            description = record.get("description")
            facts.append(
                ServiceState(
                    service=name,
                    status=status,
                    aliases=list(self.config.aliases.get(name, [])),
                    description=description if isinstance(description, str) else "",
                    disclose=self.config.disclose,
                )
            )
        return facts


def e164(country_code: Any, address: Any) -> str | None:
    """A contact method's ``country_code`` and ``address`` as an E.164 number (None: not a usable number)."""
    if address is None:
        return None
    text = str(address).strip()
    if not text:
        return None
    if not text.startswith("+"):
        if country_code in (None, ""):
            return None
        text = f"+{str(country_code).strip().lstrip('+')}{text}"
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PagerDutyDirectory:
    """Who is on call now for an escalation policy, schedule or user, with the number to dial."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        max_people: int = Field(5, ge=1, le=20, description="Dial at most this many people per target.")
        sms_numbers: bool = Field(True, description="Use an SMS contact's number when someone has no phone contact.")
        max_pages: int = Field(3, ge=1, le=20)

    name = "pagerduty"

    def __init__(self, config: Config | None, context: PluginContext) -> None:
        self.config = config or self.Config()
        self.rest = _RestClient(context)

    async def on_call(self, target: Any, call: Any) -> list[OnCallShift]:
        param = TARGET_FILTERS.get(target.type)
        if param is None:
            raise PagerDutyError(f"PagerDuty cannot look up a `{target.type}` target")
        async with self.rest.client() as client:
            entries = await self.rest.list(client, "/oncalls", "oncalls", [(param, target.id)], self.config.max_pages)
            people = self._people(entries)[: self.config.max_people]
            results = await asyncio.gather(*(self._number(client, uid) for uid, _ in people), return_exceptions=True)
        shifts: list[OnCallShift] = []
        failures = [r for r in results if isinstance(r, BaseException)]
        for (uid, name), result in zip(people, results):
            if isinstance(result, BaseException):
                logger.warning("PagerDuty contact methods of user {} unreadable: {}", uid, result)
            elif result is None:
                logger.warning("PagerDuty user {} ({}) on call for {} has no phone number", uid, name, target.id)
            else:
                shifts.append(OnCallShift(schedule=target.id, name=name, number=result, source="pagerduty"))
        if not shifts and failures:
            raise failures[0]
        return shifts

    @staticmethod
    def _people(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """(user id, name) in escalation order, each person once."""
        def level(entry: dict[str, Any]) -> int:
            value = entry.get("escalation_level")
            return value if isinstance(value, int) else 1_000
        seen: set[str] = set()
        people: list[tuple[str, str]] = []
        for entry in sorted(entries, key=level):
            user = entry.get("user")
            uid = user.get("id") if isinstance(user, dict) else None
            if not isinstance(uid, str) or not uid or uid in seen:
                continue
            seen.add(uid)
            people.append((uid, _name(user) or uid))
        return people

    async def _number(self, client: httpx.AsyncClient, user_id: str) -> str | None:
        body = await self.rest.get(client, f"/users/{user_id}/contact_methods")
        methods = body.get("contact_methods")
        if not isinstance(methods, list):
            raise PagerDutyError(f"GET /users/{user_id}/contact_methods: the answer has no `contact_methods` list")
        types = PHONE_TYPES if self.config.sms_numbers else PHONE_TYPES[:1]
        for kind in types:
            for method in methods:
                if isinstance(method, dict) and method.get("type") == kind:
                    number = e164(method.get("country_code"), method.get("address"))
                    if number:
                        return number
        return None


class PagerDutyPlatform:
    """Opens alerts as Events API v2 ``trigger`` events (same dedup key: same PagerDuty alert)."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        source: str = Field("voice-agent", description="The event's `payload.source`.")
        component: str | None = None
        group: str | None = None
        severity_high: str = "critical"
        severity_low: str = "warning"

    name = "pagerduty"

    def __init__(self, config: Config | None, context: PluginContext) -> None:
        self.config = config or self.Config()
        settings = context.plugin_settings(PagerDutySettings)
        self.context = context
        self.routing_key = settings.secret("routing_key")
        self.url = settings.events_url.rstrip("/") + "/v2/enqueue"
        self.timeout = context.settings.http_timeout_s

    def event(self, alert: Alert, note: AlertNote | None = None) -> dict[str, Any]:
        """A ``trigger`` event: the alert itself, or (``note``) more about it under the same dedup key."""
        severity = self.config.severity_high if alert.priority == "high" else self.config.severity_low
        details: dict[str, Any]
        if note is None:
            details = json.loads(json.dumps(alert.fields, default=str))
            details["details"] = alert.details
            if alert.transcript:
                details["transcript"] = alert.transcript
        else:
            details = {"note": note.text}
        links = note.links if note is not None else alert.links
        payload: dict[str, Any] = {
            "summary": (alert.summary or "Hotline call")[:1024],
            "source": self.config.source,
            "severity": severity,
            "custom_details": details,
        }
        if self.config.component:
            payload["component"] = self.config.component
        if self.config.group:
            payload["group"] = self.config.group
        event: dict[str, Any] = {"routing_key": self.routing_key, "event_action": "trigger", "payload": payload}
        if links:
            event["links"] = [{"href": link.href, "text": link.text} for link in links]
        key = alert.receipt.key if note is not None and alert.receipt and alert.receipt.key else alert.dedup_key
        if key:
            event["dedup_key"] = key[:255]
        return event

    async def open_alert(self, alert: Alert, call: Any) -> AlertReceipt:
        return await self._enqueue(self.event(alert))

    async def add_note(self, alert: Alert, note: AlertNote) -> None:
        """Another trigger with the alert's dedup key: PagerDuty adds it to the open alert's log."""
        if not (alert.receipt and alert.receipt.key) and not alert.dedup_key:
            raise PagerDutyError("POST /v2/enqueue: the alert has no dedup key to add a note to")
        await self._enqueue(self.event(alert, note))

    async def _enqueue(self, event: dict[str, Any]) -> AlertReceipt:
        what = "POST /v2/enqueue"
        if not self.routing_key:
            raise PagerDutyError(
                f"PagerDuty alerts need an Events API v2 integration key: set {PagerDutySettings.env_var('routing_key')}")
        try:
            async with self.context.http_client(timeout=self.timeout) as client:
                response = await client.post(self.url, json=event)
        except httpx.TimeoutException as exc:
            raise PagerDutyError(f"{what}: PagerDuty did not answer within {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise PagerDutyError(f"{what}: could not reach PagerDuty ({type(exc).__name__}: {exc})") from exc
        if response.status_code not in (200, 201, 202):
            raise PagerDutyError(_describe(response, what))
        body = _json(response, what)
        key = body.get("dedup_key")
        if body.get("status") not in (None, "success") or not isinstance(key, str):
            raise PagerDutyError(f"{what}: PagerDuty did not accept the event ({body.get('status')}: {body.get('message')})")
        return AlertReceipt(platform="pagerduty", key=key, url=None)


@hookimpl
def register_enrichment_sources(register):
    register("pagerduty", PagerDutySource)


@hookimpl
def register_oncall_directories(register):
    register("pagerduty", PagerDutyDirectory)


@hookimpl
def register_alert_platforms(register):
    register("pagerduty", PagerDutyPlatform)
