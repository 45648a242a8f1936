"""OpenAI Realtime (GA) events against the published contract: the ``openai`` SDK's typed models.

The contract is ``openai.types.realtime`` of the installed ``openai`` package (the version is in
``SDK_VERSION``; tests/contracts/README.md says which one the checks were written against):
``RealtimeClientEvent`` (what a client may send) and ``RealtimeServerEvent`` (what the server sends),
each a union of pydantic models, one per event ``type``.

The SDK models accept undeclared keys (``extra="allow"``: the SDK must not break when the API grows), so
validating with them alone would let a misspelt or beta-era field through. The check here is strict:

1. the event's ``type`` selects exactly one member of the union (an unknown ``type``, e.g. a beta name
   such as ``response.audio.delta``, is a violation);
2. that model validates the event (pydantic strict mode: no "800" for an int, no coercion);
3. no key anywhere in the event is undeclared: the validated model is walked recursively (nested models,
   the union member pydantic chose for a nested union, lists, dict values) and every model's
   ``model_extra`` must be empty. Fields the SDK types as free-form (``object``, ``Dict[str, object]``,
   e.g. a tool's JSON-schema ``parameters``) stay free-form.

Usage::

    check_client_event({"type": "response.create"})
    check_server_event(event)          # raises ContractViolation naming the JSON path
    check_model(Transcription, body)   # any SDK model (e.g. a REST response fixture)
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import openai
import pydantic
import pytest
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent

from tests.contracts.checker import RECORDED, ContractViolation

SDK_VERSION = openai.__version__
VENDOR = f"OpenAI Realtime (openai {SDK_VERSION} openai.types.realtime)"

__all__ = [
    "SDK_VERSION",
    "ContractViolation",
    "check_client_event",
    "check_client_events",
    "check_model",
    "check_server_event",
    "check_server_events",
    "realtime_events_checked",
    "client_event_types",
    "server_event_types",
]


def _members(union: Any) -> list[type[pydantic.BaseModel]]:
    """The models of an SDK event union (``Annotated[Union[...], PropertyInfo(discriminator="type")]``)."""
    while typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    return [member for member in typing.get_args(union) if isinstance(member, type) and issubclass(member, pydantic.BaseModel)]


def _by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    table: dict[str, type[pydantic.BaseModel]] = {}
    for model in _members(union):
        for value in typing.get_args(model.model_fields["type"].annotation):
            if value in table:
                raise RuntimeError(f"two models for event type {value!r}: {table[value].__name__}, {model.__name__}")
            table[value] = model
    return table


@lru_cache(maxsize=None)
def _client_types() -> dict[str, type[pydantic.BaseModel]]:
    return _by_type(RealtimeClientEvent)


@lru_cache(maxsize=None)
def _server_types() -> dict[str, type[pydantic.BaseModel]]:
    return _by_type(RealtimeServerEvent)


def client_event_types() -> frozenset[str]:
    """Every ``type`` a GA client event may have."""
    return frozenset(_client_types())


def server_event_types() -> frozenset[str]:
    """Every ``type`` a GA server event may have."""
    return frozenset(_server_types())


def _path(parts: Iterable[Any]) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _undeclared(value: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str, str]]:
    """(path, key, model name) of every undeclared key in a validated value."""
    found: list[tuple[tuple[Any, ...], str, str]] = []
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            found.append((path, key, type(value).__name__))
        for name, field in type(value).model_fields.items():
            found.extend(_undeclared(getattr(value, name), (*path, field.alias or name)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found.extend(_undeclared(item, (*path, index)))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.extend(_undeclared(item, (*path, key)))
    return found


def _meant(errors: list[Any]) -> list[Any]:
    """The errors of the union member the value meant.

    pydantic tries every member of a (non-discriminated) union and reports all their errors, with the
    member's name in the error location. A member that failed on its own ``type`` or ``role`` literal is
    not the one meant (a ``function_call_output`` item is not a system message); its errors are dropped,
    and member names are taken out of the reported paths.
    """

    def member_at(loc: tuple[Any, ...]) -> int | None:
        for index in range(len(loc) - 1, -1, -1):
            part = loc[index]
            if isinstance(part, str) and part[:1].isupper():
                return index
        return None

    misses: set[tuple[Any, ...]] = set()
    for error in errors:
        loc = tuple(error["loc"])
        at = member_at(loc)
        if at is not None and error["type"] == "literal_error" and loc[at + 1 :] in (("type",), ("role",)):
            misses.add(loc[: at + 1])
    kept = [e for e in errors if not any(tuple(e["loc"])[: len(m)] == m for m in misses)] or errors
    out = []
    for error in kept:
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p[:1].isupper()))
        out.append({**error, "loc": loc})
    return out


def check_model(model: type[pydantic.BaseModel], instance: Any, *, what: str | None = None) -> pydantic.BaseModel:
    """``instance`` (a JSON value) is a strict instance of the SDK model ``model``; returns the parsed model."""
    label = what or model.__name__
    try:
        parsed = model.model_validate(instance, strict=True)
    except pydantic.ValidationError as exc:
        errors = _meant(exc.errors(include_url=False))
        first = errors[0]
        others = "; ".join(f"{_path(e['loc'])}: {e['msg']}" for e in errors[1:4])
        raise ContractViolation(
            f"{VENDOR} {label}: {_path(first['loc'])}: {first['msg']}"
            + (f" (input {first.get('input')!r:.80})" if "input" in first else "")
            + (f" (also {others})" if others else "")
        ) from None
    extra = _undeclared(parsed, ())
    if extra:
        path, key, owner = extra[0]
        more = ", ".join(_path((*p, k)) for p, k, _ in extra[1:6])
        raise ContractViolation(
            f"{VENDOR} {label}: {_path((*path, key))}: `{key}` is not a field of {owner}"
            + (f" (also undeclared: {more})" if more else "")
        )
    return parsed


def _check(event: Any, table: dict[str, type[pydantic.BaseModel]], side: str) -> pydantic.BaseModel:
    if not isinstance(event, dict):
        raise ContractViolation(f"{VENDOR} {side} event: $: not a JSON object: {event!r:.120}")
    kind = event.get("type")
    model = table.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ContractViolation(f"{VENDOR} {side} event: $.type: {kind!r} is not a GA {side} event type")
    return check_model(model, event, what=f"{side} event {kind}")


def check_client_event(event: Any) -> pydantic.BaseModel:
    """One event a client sends (a parsed JSON object) against ``RealtimeClientEvent``."""
    return _check(event, _client_types(), "client")


def check_server_event(event: Any) -> pydantic.BaseModel:
    """One event the server sends (a parsed JSON object) against ``RealtimeServerEvent``."""
    return _check(event, _server_types(), "server")


def _check_all(events: Iterable[Any], check: Any) -> int:
    """Check each event; the first violation is raised with the event's index. Returns how many were checked."""
    count = 0
    for index, event in enumerate(events):
        try:
            check(event)
        except ContractViolation as violation:
            raise ContractViolation(f"event #{index}: {violation}") from None
        count += 1
    return count


def check_client_events(events: Iterable[Any]) -> int:
    return _check_all(events, check_client_event)


def check_server_events(events: Iterable[Any]) -> int:
    return _check_all(events, check_server_event)


# --- the hook: every event the fake server sends, and every event an OpenAI SDK client sends it -------------


def _from_sdk_client(session: Any) -> bool:
    """The connection was opened by the ``openai`` SDK (our processor and text engine), not a raw test client."""
    agent = session.connected_headers.get("user-agent", "") if session is not None else ""
    return agent.startswith(("AsyncOpenAI/", "OpenAI/"))


@pytest.fixture(autouse=True)
def realtime_events_checked(monkeypatch: pytest.MonkeyPatch) -> list[ContractViolation]:
    """Check what crosses ``FakeRealtimeServer``: every server event it sends, and every client event it
    receives from an ``openai``-SDK client (our code; the fake's own tests send invalid events on purpose
    with raw sockets). Violations are recorded in ``checker.RECORDED`` (the contract plugin fails the test)
    and in the list this fixture yields; nothing is raised inside the fake's tasks.
    """
    from agent.testing.fake_realtime import FakeRealtimeServer

    found: list[ContractViolation] = []
    emit, on_message = FakeRealtimeServer._emit, FakeRealtimeServer._on_message

    def record(violation: ContractViolation) -> None:
        found.append(violation)
        RECORDED.append(violation)

    async def checked_emit(self: Any, sess: Any, event: dict[str, Any]) -> None:
        before = len(sess.sent)
        await emit(self, sess, event)
        # other tasks may have sent events meanwhile: check the one this call sent (event_id added)
        sent = next((e for e in sess.sent[before:] if all(e.get(k) is v for k, v in event.items())), None)
        if sent is not None:
            try:
                check_server_event(sent)
            except ContractViolation as violation:
                record(violation)

    async def checked_on_message(self: Any, sess: Any, message: Any) -> None:
        before = len(sess.received)
        await on_message(self, sess, message)  # appends the parsed event before its first await
        if _from_sdk_client(sess) and len(sess.received) > before:
            try:
                check_client_event(sess.received[before])
            except ContractViolation as violation:
                record(violation)

    monkeypatch.setattr(FakeRealtimeServer, "_emit", checked_emit)
    monkeypatch.setattr(FakeRealtimeServer, "_on_message", checked_on_message)
    return found
