"""Finding plugins (entry-point group ``voice_agent``) and collecting what they register.

Every plugin is loaded and every hook implementation is called on its own,
so one broken plugin is reported by name and left out while the others,
and the call, go on.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy
from loguru import logger

from agent import hookspecs
from agent.core.gathers import Gather
from agent.core.intents import Intent

ENTRY_POINT_GROUP = "voice_agent"
LIFECYCLE_TIMEOUT_S = 5.0


@dataclass
class PluginReport:
    """What one plugin provides, or why it was left out."""

    name: str
    provides: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class Registry:
    """Everything the installed plugins registered, by name."""

    intents: dict[str, Intent] = field(default_factory=dict)
    gathers: dict[str, Gather] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    fallbacks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    alert_platforms: dict[str, Any] = field(default_factory=dict)
    oncall_directories: dict[str, Any] = field(default_factory=dict)
    plugins: dict[str, PluginReport] = field(default_factory=dict)
    manager: pluggy.PluginManager | None = None

    @property
    def errors(self) -> list[str]:
        return [f"{r.name}: {e}" for r in self.plugins.values() for e in r.errors]

    async def call_started(self, call: Any) -> None:
        await self._notify("call_started", call=call)

    async def call_ended(self, call: Any, outcome: Any) -> None:
        await self._notify("call_ended", call=call, outcome=outcome)

    async def _notify(self, hook_name: str, **kwargs: Any) -> None:
        """Run one lifecycle hook in every plugin; each failure is logged by plugin name and ignored."""
        if self.manager is None:
            return
        for impl in getattr(self.manager.hook, hook_name).get_hookimpls():
            arguments = {k: kwargs[k] for k in impl.argnames}
            try:
                if inspect.iscoroutinefunction(impl.function):
                    await asyncio.wait_for(impl.function(**arguments), LIFECYCLE_TIMEOUT_S)
                else:  # a blocking hook must not stall the event loop every call shares
                    await asyncio.wait_for(asyncio.to_thread(impl.function, **arguments), LIFECYCLE_TIMEOUT_S)
            except Exception as exc:  # a plugin must never end a call
                logger.warning("plugin {} failed in {}: {!r}", impl.plugin_name, hook_name, exc)


def _collect(registry: Registry, manager: pluggy.PluginManager) -> None:
    def run(hook_name: str, kind: str, store: dict[str, Any], make_register: Callable[[str, PluginReport], Callable[..., None]]) -> None:
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            report = registry.plugins.setdefault(impl.plugin_name, PluginReport(impl.plugin_name))
            try:
                impl.function(register=make_register(kind, report))
            except Exception as exc:
                report.errors.append(f"{hook_name} raised {exc!r}")
                logger.warning("plugin {} left out of {}: {!r}", impl.plugin_name, hook_name, exc)

    def keyed(store: dict[str, Any], kind: str, report: PluginReport, name: str, value: Any) -> None:
        if name in store:
            report.errors.append(f"{kind} {name!r} is already registered; kept the first")
            return
        store[name] = value
        report.provides.setdefault(kind, []).append(name)

    def intent_register(kind: str, report: PluginReport) -> Callable[..., None]:
        def register(intent: Intent) -> None:
            if not isinstance(intent, Intent):
                raise TypeError(f"register_intents expects Intent, got {type(intent).__name__}")
            keyed(registry.intents, kind, report, intent.name, intent)
        return register

    def gather_register(kind: str, report: PluginReport) -> Callable[..., None]:
        def register(gather: Gather) -> None:
            if not isinstance(gather, Gather):
                raise TypeError(f"register_gathers expects a Gather instance, got {type(gather).__name__}")
            keyed(registry.gathers, kind, report, gather.name, gather)
        return register

    def named_register(store: dict[str, Any]) -> Callable[[str, PluginReport], Callable[..., None]]:
        def make(kind: str, report: PluginReport) -> Callable[..., None]:
            def register(name: str, value: Any) -> None:
                keyed(store, kind, report, name, value)
            return register
        return make

    run("register_intents", "intent", registry.intents, intent_register)
    run("register_gathers", "gather", registry.gathers, gather_register)
    run("register_enrichment_sources", "source", registry.sources, named_register(registry.sources))
    run("register_fallbacks", "fallback", registry.fallbacks, named_register(registry.fallbacks))
    run("register_alert_platforms", "alert platform", registry.alert_platforms, named_register(registry.alert_platforms))
    run("register_oncall_directories", "on-call directory", registry.oncall_directories, named_register(registry.oncall_directories))
    for name, plugin in manager.list_name_plugin():
        report = registry.plugins.setdefault(name, PluginReport(name))
        for hook in ("call_started", "call_ended"):
            if hasattr(plugin, hook):
                report.provides.setdefault("lifecycle", []).append(hook)


def load_registry(plugins: Iterable[tuple[str, object]] = (), *, use_entry_points: bool = True) -> Registry:
    """Load the installed plugins (and any given ``(name, module)`` pairs) into a fresh registry."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager=manager)
    candidates: list[tuple[str, Callable[[], object]]] = []
    if use_entry_points:
        # Built-ins first, so a third-party name clash is reported against the newcomer.
        found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (not e.value.startswith("plugins."), e.name))
        for ep in found:
            candidates.append((ep.name, ep.load))
    for name, module in plugins:
        candidates.append((name, lambda module=module: module))
    for name, load in candidates:
        if manager.has_plugin(name):
            continue
        try:
            manager.register(load(), name=name)
        except Exception as exc:
            registry.plugins[name] = PluginReport(name, errors=[f"failed to load: {exc!r}"])
            logger.warning("plugin {} failed to load and is left out: {!r}", name, exc)
    _collect(registry, manager)
    return registry


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry of installed plugins, loaded once."""
    global _default
    if _default is None:
        _default = load_registry()
    return _default
