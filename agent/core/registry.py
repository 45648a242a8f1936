"""Finding plugins and collecting what they register.

The built-in plugins (``plugins/``) are imported and registered first, by
module path (:data:`BUILTIN_PLUGINS`, as simonw/llm registers its default
plugins); then every plugin installed under the entry-point group
``voice_agent``, in the order of their entry-point names; then any passed to
:func:`load_registry`.

Every plugin is loaded and every hook implementation is called on its own,
so one broken plugin is reported by name and left out while the others,
and the call, go on. Implementations run in registration order, except that
pluggy's ``tryfirst=True`` ones run before all others and ``trylast=True``
ones after (so ``@hookimpl(tryfirst=True)`` lets a plugin's registration win
a name a built-in also registers). ``hookwrapper``/``wrapper``
implementations are refused and reported: a wrapper would run around every
other plugin's implementation, so its failure could not be charged to one
plugin, and registration hooks return nothing to wrap.
"""

from __future__ import annotations

import asyncio
import importlib
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
from agent.core.settings import PluginSettings, Settings

ENTRY_POINT_GROUP = "voice_agent"
LIFECYCLE_TIMEOUT_S = 5.0

#: The built-in plugins: (name in reports, module), imported and registered before any other.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("builtin_intents", "plugins.intents"),
    ("builtin_gathers", "plugins.gathers"),
    ("default_fallback", "plugins.fallback"),
    ("static_source", "plugins.static_source"),
    ("http_json", "plugins.http_json"),
    ("statuspage", "plugins.statuspage"),
    ("ilert", "plugins.ilert"),
    ("pagerduty", "plugins.pagerduty"),
    # The model backends (openai_realtime, cascade, ...): one module that imports each on its own, so a
    # backend whose extra is missing is reported by name and the others still register.
    ("builtin_backends", "agent.media.backends.builtin"),
)

_REGISTRATION_HOOKS = (
    ("register_intents", "intent"),
    ("register_gathers", "gather"),
    ("register_enrichment_sources", "source"),
    ("register_fallbacks", "fallback"),
    ("register_alert_platforms", "alert platform"),
    ("register_oncall_directories", "on-call directory"),
    ("register_model_backends", "model backend"),
)
_LIFECYCLE_HOOKS = ("call_started", "call_ended")


@dataclass
class PluginReport:
    """What one plugin provides, or why it was left out."""

    name: str
    provides: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    settings: list[type[PluginSettings]] = field(default_factory=list)
    """Its :class:`~agent.core.settings.PluginSettings` classes (``provides["settings"]`` lists their variables)."""


def ordered_hookimpls(manager: pluggy.PluginManager, hook_name: str) -> list[Any]:
    """A hook's implementations in the order the agent calls them: tryfirst, then registration order, then trylast.

    Wrappers (``hookwrapper=True`` / ``wrapper=True``) are left out; :func:`load_registry` reports them.
    """
    order = {name: i for i, (name, _) in enumerate(manager.list_name_plugin())}
    impls = [i for i in getattr(manager.hook, hook_name).get_hookimpls() if not (i.hookwrapper or i.wrapper)]
    return sorted(impls, key=lambda i: (0 if i.tryfirst else 2 if i.trylast else 1, order.get(i.plugin_name, len(order))))


@dataclass
class Registry:
    """Everything the installed plugins registered, by name."""

    intents: dict[str, Intent] = field(default_factory=dict)
    gathers: dict[str, Gather] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    fallbacks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    alert_platforms: dict[str, Any] = field(default_factory=dict)
    oncall_directories: dict[str, Any] = field(default_factory=dict)
    backends: dict[str, type] = field(default_factory=dict)
    """Model backend classes by name (``agent.media.backends.base.ModelBackend`` subclasses)."""
    plugins: dict[str, PluginReport] = field(default_factory=dict)
    manager: pluggy.PluginManager | None = None

    @property
    def errors(self) -> list[str]:
        return [f"{r.name}: {e}" for r in self.plugins.values() for e in r.errors]

    def environment_variables(self) -> list[str]:
        """Every ``VOICE_AGENT_*`` variable the agent and its plugins read."""
        names = [f"{Settings.model_config.get('env_prefix', '')}{name}".upper() for name in Settings.model_fields]
        for report in self.plugins.values():
            for cls in report.settings:
                names += [n for n in cls.env_vars() if n not in names]
        return names

    async def call_started(self, call: Any) -> None:
        await self._notify("call_started", call=call)

    async def call_ended(self, call: Any, outcome: Any) -> None:
        await self._notify("call_ended", call=call, outcome=outcome)

    async def _notify(self, hook_name: str, **kwargs: Any) -> None:
        """Run one lifecycle hook in every plugin; each failure is logged by plugin name and ignored."""
        if self.manager is None:
            return
        for impl in ordered_hookimpls(self.manager, hook_name):
            arguments = {k: kwargs[k] for k in impl.argnames}
            try:
                if inspect.iscoroutinefunction(impl.function):
                    await asyncio.wait_for(impl.function(**arguments), LIFECYCLE_TIMEOUT_S)
                else:  # a blocking hook must not stall the event loop every call shares
                    await asyncio.wait_for(asyncio.to_thread(impl.function, **arguments), LIFECYCLE_TIMEOUT_S)
            except Exception as exc:  # a plugin must never end a call
                logger.warning("plugin {} failed in {}: {!r}", impl.plugin_name, hook_name, exc)


def _collect(registry: Registry, manager: pluggy.PluginManager) -> None:
    owners: dict[tuple[str, str], str] = {}

    def keyed(store: dict[str, Any], kind: str, report: PluginReport, name: str, value: Any) -> None:
        if name in store:
            owner = owners.get((kind, name), "?")
            report.errors.append(f"{kind} {name!r} is already registered by {owner}; kept that one")
            return
        store[name] = value
        owners[kind, name] = report.name
        report.provides.setdefault(kind, []).append(name)

    def make_register(hook_name: str, kind: str, store: dict[str, Any], report: PluginReport) -> Callable[..., None]:
        if hook_name == "register_intents":
            def register_intent(intent: Intent) -> None:
                if not isinstance(intent, Intent):
                    raise TypeError(f"register_intents expects Intent, got {type(intent).__name__}")
                keyed(store, kind, report, intent.name, intent)
            return register_intent
        if hook_name == "register_gathers":
            def register_gather(gather: Gather) -> None:
                if not isinstance(gather, Gather):
                    raise TypeError(f"register_gathers expects a Gather instance, got {type(gather).__name__}")
                keyed(store, kind, report, gather.name, gather)
            return register_gather
        if hook_name == "register_model_backends":
            def register_backend(name: str, backend: type) -> None:
                if not isinstance(name, str) or not name:
                    raise TypeError(f"register_model_backends expects register(name, BackendClass), got name {name!r}")
                if not isinstance(backend, type):
                    raise TypeError(f"register_model_backends expects a ModelBackend class, got {type(backend).__name__}")
                keyed(store, kind, report, name, backend)
                for cls in getattr(backend, "settings_classes", ()):  # its keys and URLs (`voice-agent plugins` lists
                    if cls not in report.settings:                   # them under the backend)
                        report.settings.append(cls)
            return register_backend

        def register(name: str, value: Any) -> None:
            if not isinstance(name, str) or not name:
                raise TypeError(f"{hook_name} expects register(name, class), got name {name!r}")
            keyed(store, kind, report, name, value)
        return register

    stores = {
        "register_intents": registry.intents,
        "register_gathers": registry.gathers,
        "register_enrichment_sources": registry.sources,
        "register_fallbacks": registry.fallbacks,
        "register_alert_platforms": registry.alert_platforms,
        "register_oncall_directories": registry.oncall_directories,
        "register_model_backends": registry.backends,
    }
    for hook_name, kind in _REGISTRATION_HOOKS:
        for impl in ordered_hookimpls(manager, hook_name):
            report = registry.plugins.setdefault(impl.plugin_name, PluginReport(impl.plugin_name))
            try:
                impl.function(register=make_register(hook_name, kind, stores[hook_name], report))
            except Exception as exc:
                report.errors.append(f"{hook_name} raised {exc!r}")
                logger.warning("plugin {} left out of {}: {!r}", impl.plugin_name, hook_name, exc)
    for name, plugin in manager.list_name_plugin():
        report = registry.plugins.setdefault(name, PluginReport(name))
        for hook in _LIFECYCLE_HOOKS:
            if any(i.plugin is plugin for i in ordered_hookimpls(manager, hook)):
                report.provides.setdefault("lifecycle", []).append(hook)
        for cls in _settings_classes(plugin):
            if cls in report.settings:
                continue
            report.settings.append(cls)
            report.provides.setdefault("settings", []).extend(cls.env_vars())


def _settings_classes(plugin: object) -> list[type[PluginSettings]]:
    """The :class:`PluginSettings` subclasses a plugin module defines (not those it imports)."""
    module = getattr(plugin, "__name__", None)
    members = vars(plugin).values() if hasattr(plugin, "__dict__") else ()
    return [v for v in members if isinstance(v, type) and issubclass(v, PluginSettings) and v.__module__ == module]


def _check_hooks(registry: Registry, manager: pluggy.PluginManager, name: str, plugin: object) -> None:
    """Report wrappers (refused) and hooks that do not exist (a typo would otherwise be silently ignored)."""
    report = registry.plugins.setdefault(name, PluginReport(name))
    for caller in manager.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            if caller.spec is None and not impl.optionalhook:
                report.errors.append(f"{caller.name} is not a voice_agent hook (see agent.hookspecs); ignored")
            elif impl.hookwrapper or impl.wrapper:
                report.errors.append(
                    f"{caller.name}: hookwrapper/wrapper implementations are not supported (each plugin's hook runs "
                    "on its own, so one plugin's failure stays its own); ignored")


def load_registry(
    plugins: Iterable[tuple[str, object]] = (), *, use_entry_points: bool = True, builtins: bool = True,
) -> Registry:
    """Load the built-in plugins, the installed ones and any given ``(name, module)`` pairs into a fresh registry.

    ``use_entry_points=False`` leaves out the installed third-party plugins,
    ``builtins=False`` the built-in ones (to test one plugin on its own).
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager=manager)
    candidates: list[tuple[str, Callable[[], object]]] = []
    if builtins:
        for name, module in BUILTIN_PLUGINS:
            candidates.append((name, lambda module=module: importlib.import_module(module)))
    if use_entry_points:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            candidates.append((ep.name, ep.load))
    for name, module in plugins:
        candidates.append((name, lambda module=module: module))
    for name, load in candidates:
        if manager.has_plugin(name):
            continue
        try:
            plugin = load()
            if manager.is_registered(plugin):
                continue  # already registered under another name (e.g. a built-in still listed as an entry point)
            manager.register(plugin, name=name)
        except Exception as exc:
            registry.plugins[name] = PluginReport(name, errors=[f"failed to load: {exc!r}"])
            logger.warning("plugin {} failed to load and is left out: {!r}", name, exc)
            continue
        _check_hooks(registry, manager, name, plugin)
    _collect(registry, manager)
    return registry


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry of installed plugins, loaded once."""
    global _default
    if _default is None:
        _default = load_registry()
    return _default
