"""oncall-voice-agent: an AI voice agent for on-call hotlines, built on Pipecat pipelines.

Plugins import from :mod:`agent.plugin_api`; its names are re-exported here
(``from agent import hookimpl, PluginContext``), loaded on first use so that
``import agent`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.hookspecs import hookimpl

__version__ = "0.1.0"

if TYPE_CHECKING:
    from agent.plugin_api import *  # noqa: F403


def __getattr__(name: str) -> Any:
    import agent.plugin_api as api

    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")


def __dir__() -> list[str]:
    import agent.plugin_api as api

    return sorted({*globals(), *api.__all__})


__all__ = ["hookimpl", "__version__", *[
    # agent.plugin_api's names (kept in step by tests/test_plugin_api.py)
    "RegisterIntent", "RegisterGather", "RegisterSource", "RegisterAlertPlatform", "RegisterOnCallDirectory",
    "RegisterFallback", "RegisterModelBackend", "SourceFactory", "AlertPlatformFactory", "OnCallDirectoryFactory",
    "ModelBackendClass",
    "EnrichmentSource", "AlertPlatform", "OnCallDirectory", "FallbackHandler", "PluginContext", "PluginSettings",
    "SettingsConfigDict", "Settings", "SharedCache", "SourceConfigError",
    "Call", "Outcome", "Alert", "AlertLink", "AlertNote", "AlertReceipt", "Fact", "CustomFact", "MaintenanceWindow",
    "OnCallShift", "OpenIncident", "ServiceState", "StatusPageEntry", "Intent", "Gather", "CustomGather",
    "GatherContext", "InvalidValue", "FallbackDecision", "FallbackReason", "RouteTarget", "AgentMessages",
    "extract", "http_client", "lines_of", "load_registry",
]]
