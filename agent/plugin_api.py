"""The plugin API: everything a ``voice_agent`` plugin imports, from one module.

::

    from agent.plugin_api import CustomFact, PluginContext, PluginSettings, hookimpl

(``from agent import ...`` works too: ``agent`` re-exports all of it.) The
hooks themselves, and what each ``register`` callback takes, are documented
in :mod:`agent.hookspecs`; ``docs/plugins.md`` walks through a complete
plugin package. What is here:

- ``hookimpl``, the marker of hook implementations, and the typed
  ``register`` callbacks the registration hooks receive (``RegisterIntent``,
  ``RegisterGather``, ``RegisterSource``, ``RegisterAlertPlatform``,
  ``RegisterOnCallDirectory``, ``RegisterFallback``, ``RegisterModelBackend``);
- the protocols a plugin's classes follow: :class:`EnrichmentSource`,
  :class:`AlertPlatform` (``open_alert``, optional ``add_note``),
  :class:`OnCallDirectory`, :class:`FallbackHandler`;
- :class:`PluginContext`, what every plugin class is built with: the agent's
  ``settings``, the flow's ``base_dir``, ``plugin_settings(cls)``,
  ``http_client()`` and ``cache``;
- :class:`PluginSettings`, the base of a plugin's own settings (its own
  ``VOICE_AGENT_<PLUGIN>_*`` variables, the way ilert and PagerDuty configure
  themselves);
- the core types plugins take and return: the call and alerts
  (:class:`Call`, :class:`Alert`, :class:`AlertNote`, :class:`AlertReceipt`,
  ...), facts (:data:`Fact`, :class:`OpenIncident`, :class:`CustomFact`, ...),
  :class:`Intent`, :class:`Gather`, :class:`FallbackDecision`, the flow's
  :class:`RouteTarget`, and helpers (``extract``, ``lines_of``, ``http_client``);
- for a plugin's own tests: ``load_registry([("my_plugin", module)])``, the
  built-ins plus that module, with a report of what it registered or why not.

Everything else in ``agent`` may change between versions; this module is the
contract (``plugins/`` itself imports only from here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from pydantic_settings import SettingsConfigDict

from agent.core import extract
from agent.core.call import Alert, AlertLink, AlertNote, AlertReceipt, Call, Outcome
from agent.core.facts import (
    CustomFact,
    Fact,
    MaintenanceWindow,
    OnCallShift,
    OpenIncident,
    ServiceState,
    StatusPageEntry,
)
from agent.core.fallback import FallbackDecision, FallbackHandler, FallbackReason
from agent.core.gathers import CustomGather, Gather, GatherContext, InvalidValue
from agent.core.http_client import http_client
from agent.core.intents import Intent
from agent.core.platforms import AlertPlatform, OnCallDirectory
from agent.core.registry import load_registry
from agent.core.settings import PluginSettings, Settings
from agent.core.sources import EnrichmentSource, PluginContext, SharedCache, SourceConfigError
from agent.core.lines import lines_of
from agent.core.config import AgentMessages, RouteTarget
from agent.hookspecs import hookimpl

#: A source class: ``SourceClass(config, context)`` builds an :class:`EnrichmentSource`.
SourceFactory: TypeAlias = Callable[[Any, PluginContext], EnrichmentSource]
#: An alert platform class: ``PlatformClass(config, context)`` builds an :class:`AlertPlatform`.
AlertPlatformFactory: TypeAlias = Callable[[Any, PluginContext], AlertPlatform]
#: An on-call directory class: ``DirectoryClass(config, context)`` builds an :class:`OnCallDirectory`.
OnCallDirectoryFactory: TypeAlias = Callable[[Any, PluginContext], OnCallDirectory]

#: ``register(intent)`` in ``register_intents``.
RegisterIntent: TypeAlias = Callable[[Intent], None]
#: ``register(gather)`` in ``register_gathers``.
RegisterGather: TypeAlias = Callable[[Gather], None]
#: ``register(type_name, SourceClass)`` in ``register_enrichment_sources``.
RegisterSource: TypeAlias = Callable[[str, SourceFactory], None]
#: ``register(type_name, PlatformClass)`` in ``register_alert_platforms``.
RegisterAlertPlatform: TypeAlias = Callable[[str, AlertPlatformFactory], None]
#: ``register(type_name, DirectoryClass)`` in ``register_oncall_directories``.
RegisterOnCallDirectory: TypeAlias = Callable[[str, OnCallDirectoryFactory], None]
#: ``register(name, handler)`` in ``register_fallbacks``.
RegisterFallback: TypeAlias = Callable[[str, FallbackHandler], None]
#: A model backend class: a subclass of ``agent.media.backends.base.ModelBackend`` (built on Pipecat,
#: so typed loosely here: this module imports nothing from the media layer).
ModelBackendClass: TypeAlias = type[Any]
#: ``register(name, BackendClass)`` in ``register_model_backends``.
RegisterModelBackend: TypeAlias = Callable[[str, ModelBackendClass], None]

__all__ = [
    # hooks
    "hookimpl",
    "RegisterIntent",
    "RegisterGather",
    "RegisterSource",
    "RegisterAlertPlatform",
    "RegisterOnCallDirectory",
    "RegisterFallback",
    "RegisterModelBackend",
    "SourceFactory",
    "AlertPlatformFactory",
    "OnCallDirectoryFactory",
    "ModelBackendClass",
    # what plugin classes follow, and are built with
    "EnrichmentSource",
    "AlertPlatform",
    "OnCallDirectory",
    "FallbackHandler",
    "PluginContext",
    "PluginSettings",
    "SettingsConfigDict",
    "Settings",
    "SharedCache",
    "SourceConfigError",
    # core types
    "Call",
    "Outcome",
    "Alert",
    "AlertLink",
    "AlertNote",
    "AlertReceipt",
    "Fact",
    "CustomFact",
    "MaintenanceWindow",
    "OnCallShift",
    "OpenIncident",
    "ServiceState",
    "StatusPageEntry",
    "Intent",
    "Gather",
    "CustomGather",
    "GatherContext",
    "InvalidValue",
    "FallbackDecision",
    "FallbackReason",
    "RouteTarget",
    "AgentMessages",
    # helpers
    "extract",
    "http_client",
    "lines_of",
    # tests
    "load_registry",
]
