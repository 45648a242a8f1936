"""The plugin API (issue 12 item 4): one module, per-plugin settings, built-ins by import, hook ordering.

Third-party plugins here are modules built in the test and handed to
``load_registry``, as an installed entry point would be; nothing is installed
and nothing touches the network.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import agent
import agent.core.registry
import agent.plugin_api as api
from agent import hookspecs
from agent.core.sources import PluginContext, build_plugin, build_source
from agent.flow.models import PluginRef, SourceConfig
from agent.plugin_api import (
    CustomFact,
    PluginContext,
    PluginSettings,
    Settings,
    SettingsConfigDict,
    SourceConfigError,
    hookimpl,
    load_registry,
)

ROOT = Path(__file__).resolve().parent.parent
BUILTINS = ["builtin_intents", "builtin_gathers", "default_fallback", "static_source", "http_json", "statuspage", "ilert", "pagerduty", "builtin_backends"]


def plugin_module(name: str, **members: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in members.items():
        if isinstance(value, type):
            value.__module__ = name
        setattr(module, key, value)
    return module


# --- a third-party plugin with settings of its own -----------------------------------------------------------------


class AcmeSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="VOICE_AGENT_ACME_")

    url: str = "https://status.acme.example"
    token: str | None = None
    retries: int = 2


class AcmeSource:
    name = ""

    def __init__(self, config: Any, context: PluginContext) -> None:
        self.settings = context.plugin_settings(AcmeSettings)

    async def fetch(self, call: Any) -> list[CustomFact]:
        missing = self.settings.missing("token", "Acme token")
        if missing:
            raise RuntimeError(missing)
        return [CustomFact(text=f"asked {self.settings.url} with {self.settings.token} ({self.settings.retries} retries)")]


@hookimpl
def _register_acme(register):
    register("acme", AcmeSource)


def acme_plugin() -> types.ModuleType:
    return plugin_module("acme_voice_plugin", AcmeSettings=AcmeSettings, register_enrichment_sources=_register_acme)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("URL", "TOKEN", "RETRIES"):
        monkeypatch.delenv(f"VOICE_AGENT_ACME_{name}", raising=False)
    return tmp_path


def fetch(source: Any) -> list[str]:
    return [f.text for f in asyncio.run(source.fetch(None))]


def test_a_third_party_plugin_reads_its_own_variables_from_the_environment(clean_env, monkeypatch):
    monkeypatch.setenv("VOICE_AGENT_ACME_TOKEN", "s3cret")
    monkeypatch.setenv("VOICE_AGENT_ACME_RETRIES", "5")
    registry = load_registry([("acme", acme_plugin())], use_entry_points=False)
    source = build_source(SourceConfig(type="acme"), registry.sources, PluginContext(settings=Settings(), base_dir=clean_env))
    assert fetch(source) == ["asked https://status.acme.example with s3cret (5 retries)"]


def test_its_variables_come_from_dotenv_too_and_the_environment_wins(clean_env, monkeypatch):
    (clean_env / ".env").write_text("VOICE_AGENT_ACME_TOKEN=from-dotenv\nVOICE_AGENT_ACME_URL=https://dotenv.example\n")
    monkeypatch.setenv("VOICE_AGENT_ACME_URL", "https://env.example")
    source = AcmeSource({}, PluginContext(Settings(), clean_env))
    assert fetch(source) == ["asked https://env.example with from-dotenv (2 retries)"]
    # Settings that read no .env give plugins none either (tests cannot pick up a developer's keys)
    monkeypatch.delenv("VOICE_AGENT_ACME_URL")
    bare = AcmeSource({}, PluginContext(Settings(_env_file=None), clean_env))
    assert bare.settings.token is None and bare.settings.url == "https://status.acme.example"


def test_settings_keywords_configure_plugins_like_their_variables(clean_env, monkeypatch):
    monkeypatch.setenv("VOICE_AGENT_ACME_TOKEN", "from-env")
    context = PluginContext(settings=Settings(_env_file=None, acme_token="given", acme_retries=0), base_dir=clean_env)
    assert fetch(AcmeSource({}, context)) == ["asked https://status.acme.example with given (0 retries)"]
    assert context.plugin_settings(AcmeSettings) is context.plugin_settings(AcmeSettings)  # read once


def test_a_missing_key_says_which_variable_to_set(clean_env):
    source = AcmeSource({}, PluginContext(Settings(_env_file=None), clean_env))
    with pytest.raises(RuntimeError, match="^no Acme token: set VOICE_AGENT_ACME_TOKEN$"):
        fetch(source)


def test_an_invalid_value_is_a_flow_error_naming_the_variable(clean_env, monkeypatch):
    monkeypatch.setenv("VOICE_AGENT_ACME_RETRIES", "several")
    registry = load_registry([("acme", acme_plugin())], use_entry_points=False)
    with pytest.raises(SourceConfigError, match="VOICE_AGENT_ACME_RETRIES: Input should be a valid integer"):
        build_source(SourceConfig(type="acme"), registry.sources, PluginContext(Settings(), clean_env))


def test_voice_agent_plugins_lists_each_plugins_variables(monkeypatch):
    registry = load_registry([("acme", acme_plugin())], use_entry_points=False)
    monkeypatch.setattr(agent.core.registry, "_default", registry)
    from agent.cli.main import app

    shown = CliRunner().invoke(app, ["plugins"]).stdout
    assert "acme  [ok]\n    source: acme\n    settings: VOICE_AGENT_ACME_URL, VOICE_AGENT_ACME_TOKEN, VOICE_AGENT_ACME_RETRIES\n" in shown
    assert "    settings: VOICE_AGENT_ILERT_API_KEY, VOICE_AGENT_ILERT_BASE_URL, VOICE_AGENT_ILERT_ALERT_SOURCE_KEY\n" in shown
    assert "VOICE_AGENT_ACME_TOKEN" in registry.environment_variables()


def test_plugin_settings_need_a_prefix_of_their_own():
    source = "from agent.plugin_api import PluginSettings, hookimpl\n\nclass Sloppy(PluginSettings):\n    api_key: str = ''\n"
    module = types.ModuleType("sloppy_plugin")
    with pytest.raises(TypeError, match="prefix of their own"):
        exec(compile(source, "sloppy_plugin.py", "exec"), module.__dict__)  # noqa: S102


def test_the_builtin_platforms_keep_the_variable_names_users_set(monkeypatch, tmp_path):
    from plugins.ilert import IlertSettings
    from plugins.pagerduty import PagerDutySettings

    monkeypatch.chdir(tmp_path)
    for name, value in {"ILERT_API_KEY": "il-key", "ILERT_BASE_URL": "https://api.ilert.eu.example",
                        "ILERT_ALERT_SOURCE_KEY": "il1api", "PAGERDUTY_API_KEY": "pd-key",
                        "PAGERDUTY_ROUTING_KEY": "R0UTE", "PAGERDUTY_BASE_URL": "https://pd.example",
                        "PAGERDUTY_EVENTS_URL": "https://events.pd.example"}.items():
        monkeypatch.setenv(f"VOICE_AGENT_{name}", value)
    context = PluginContext(Settings(), tmp_path)
    ilert, pagerduty = context.plugin_settings(IlertSettings), context.plugin_settings(PagerDutySettings)
    assert (ilert.secret("api_key"), ilert.base_url, ilert.secret("alert_source_key")) == ("il-key", "https://api.ilert.eu.example", "il1api")
    assert (pagerduty.secret("api_key"), pagerduty.secret("routing_key"), pagerduty.base_url, pagerduty.events_url) == (
        "pd-key", "R0UTE", "https://pd.example", "https://events.pd.example")
    assert "ilert_api_key" not in Settings.model_fields and "pagerduty_routing_key" not in Settings.model_fields


# --- built-ins by import -------------------------------------------------------------------------------------------


def test_the_builtins_are_registered_by_import_without_any_entry_point(monkeypatch):
    monkeypatch.setattr(agent.core.registry, "entry_points", lambda group: [])  # as if no metadata were installed
    registry = load_registry()
    assert list(registry.plugins) == BUILTINS
    assert registry.errors == []
    assert {"static", "http_json", "statuspage", "ilert", "pagerduty"} <= set(registry.sources)
    assert set(registry.alert_platforms) == {"ilert", "pagerduty"} and "default" in registry.fallbacks


def test_the_builtins_are_no_entry_points_and_a_stale_one_does_not_register_twice(monkeypatch):
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("entry-points", {})
    assert "voice_agent" not in declared
    stale = [types.SimpleNamespace(name="old_ilert", load=lambda: __import__("plugins.ilert", fromlist=["x"]))]
    monkeypatch.setattr(agent.core.registry, "entry_points", lambda group: stale)
    registry = load_registry()
    assert "old_ilert" not in registry.plugins and registry.errors == []


def test_a_builtin_that_fails_to_import_is_reported_and_the_others_load(monkeypatch):
    monkeypatch.setattr(agent.core.registry, "BUILTIN_PLUGINS", (("broken", "plugins.no_such_module"), *agent.core.registry.BUILTIN_PLUGINS))
    registry = load_registry(use_entry_points=False)
    assert "failed to load" in registry.plugins["broken"].errors[0]
    assert "static" in registry.sources


# --- hook ordering -------------------------------------------------------------------------------------------------


class LoudStatic:
    def __init__(self, config: Any, context: Any) -> None:
        pass

    async def fetch(self, call: Any) -> list:
        return []


def test_tryfirst_lets_a_plugin_replace_a_builtin_and_the_builtin_is_reported():
    @hookimpl(tryfirst=True)
    def register_enrichment_sources(register):
        register("static", LoudStatic)

    registry = load_registry([("loud", plugin_module("loud", register_enrichment_sources=register_enrichment_sources))],
                             use_entry_points=False)
    assert registry.sources["static"] is LoudStatic
    assert registry.plugins["loud"].provides == {"source": ["static"]}
    assert registry.plugins["static_source"].errors == ["source 'static' is already registered by loud; kept that one"]


def test_without_tryfirst_the_builtin_keeps_its_name():
    @hookimpl
    def register_enrichment_sources(register):
        register("static", LoudStatic)

    registry = load_registry([("late", plugin_module("late", register_enrichment_sources=register_enrichment_sources))],
                             use_entry_points=False)
    assert registry.sources["static"] is not LoudStatic
    assert registry.plugins["late"].errors == ["source 'static' is already registered by static_source; kept that one"]


def test_trylast_loses_to_plugins_registered_after_it_and_lifecycle_hooks_run_in_that_order():
    seen: list[str] = []

    def plugin(name: str, **marks: bool) -> types.ModuleType:
        @hookimpl(**marks)
        def register_fallbacks(register):
            register("shared", lambda call, reason: name)

        @hookimpl(**marks)
        def call_started(call):
            seen.append(name)

        return plugin_module(name, register_fallbacks=register_fallbacks, call_started=call_started)

    registry = load_registry(
        [("last", plugin(name="last", trylast=True)), ("middle", plugin(name="middle")), ("first", plugin(name="first", tryfirst=True))],
        use_entry_points=False, builtins=False,
    )
    assert registry.fallbacks["shared"](None, "no_intent") == "first"
    assert registry.plugins["middle"].errors == ["fallback 'shared' is already registered by first; kept that one"]
    asyncio.run(registry.call_started(object()))
    assert seen == ["first", "middle", "last"]


def test_wrappers_and_misspelt_hooks_are_reported_not_run():
    ran: list[str] = []

    @hookimpl(hookwrapper=True)
    def register_intents(register):
        ran.append("wrapper")
        yield

    @hookimpl
    def register_enrichment_source(register):  # a typo: the hook is register_enrichment_sources
        ran.append("typo")

    registry = load_registry([("odd", plugin_module("odd", register_intents=register_intents,
                                                     register_enrichment_source=register_enrichment_source))],
                             use_entry_points=False)
    errors = registry.plugins["odd"].errors
    assert any(e.startswith("register_intents: hookwrapper/wrapper implementations are not supported") for e in errors)
    assert any(e.startswith("register_enrichment_source is not a voice_agent hook") for e in errors)
    assert ran == [] and registry.intents  # the built-ins' intents are all there


# --- one module ----------------------------------------------------------------------------------------------------


def agent_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names] if isinstance(node, ast.Import) else []
        found.update(n for n in names if n == "agent" or n.startswith("agent."))
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "plugins").glob("*.py")), ids=lambda p: p.name)
def test_builtin_plugins_import_only_the_plugin_api(path: Path):
    assert agent_imports(path) <= {"agent.plugin_api"}


def test_agent_re_exports_the_plugin_api():
    assert set(agent.__all__) - {"__version__"} == set(api.__all__)
    for name in api.__all__:
        assert getattr(agent, name) is getattr(api, name), name
    from agent import PluginContext as reexported

    assert reexported is PluginContext


def test_the_context_keeps_its_old_name_and_arguments(tmp_path):
    assert PluginContext is PluginContext
    context = PluginContext(Settings(_env_file=None, http_timeout_s=3), tmp_path)
    client = context.http_client()
    assert context.base_dir == tmp_path and client.timeout.read == 3
    asyncio.run(client.aclose())
    platform = build_plugin(PluginRef(type="ilert"), load_registry(use_entry_points=False).alert_platforms,
                            PluginContext(settings=Settings(_env_file=None), base_dir=tmp_path), kind="alert platform")
    assert isinstance(platform, api.AlertPlatform)


def test_the_context_cache_asks_once_for_concurrent_calls(tmp_path):
    context = PluginContext(Settings(_env_file=None), tmp_path)
    asked = []

    async def answer() -> dict:
        asked.append(1)
        await asyncio.sleep(0.01)
        return {"state": "ok"}

    async def main() -> list:
        try:
            return await asyncio.gather(*(context.cache.get("test_plugin_api:state", 5, answer) for _ in range(5)))
        finally:
            context.cache.clear()

    assert asyncio.run(main()) == [{"state": "ok"}] * 5 and len(asked) == 1


def test_every_hook_is_documented_for_plugin_authors():
    hooks = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "voice_agent_spec")]
    assert {f.__name__ for f in hooks} >= {"register_intents", "register_gathers", "register_enrichment_sources",
                                           "register_alert_platforms", "register_oncall_directories", "register_fallbacks",
                                           "call_started", "call_ended"}
    for hook in hooks:
        assert len(inspect.getdoc(hook) or "") > 200, hook.__name__
    assert "add_note" in inspect.getdoc(hookspecs.register_alert_platforms)
    assert "alert.receipt" in inspect.getdoc(api.AlertPlatform.add_note)


# --- model backends (register_model_backends) ------------------------------------------------------------------------


def backend_plugin(name: str, *, tryfirst: bool = False, value: Any = None) -> types.ModuleType:
    from agent.media.backends.openai_realtime import OpenAIRealtimeBackend

    class VendorSettings(PluginSettings):
        model_config = SettingsConfigDict(env_prefix="VOICE_AGENT_VENDOR_")
        api_key: str | None = None

    class VendorBackend(OpenAIRealtimeBackend):
        settings_classes = (VendorSettings,)

    @hookimpl(tryfirst=tryfirst)
    def register_model_backends(register):
        register(name, VendorBackend if value is None else value)

    return plugin_module("vendor", register_model_backends=register_model_backends, VendorSettings=VendorSettings)


def test_a_plugins_backend_is_registered_listed_with_its_variables_and_usable_in_flows(monkeypatch):
    registry = load_registry([("vendor", backend_plugin("vendor_rt"))], use_entry_points=False)
    assert set(registry.backends) >= {"openai_realtime", "vendor_rt"}
    assert registry.plugins["vendor"].provides["model backend"] == ["vendor_rt"]
    assert "VOICE_AGENT_VENDOR_API_KEY" in registry.environment_variables()
    monkeypatch.setattr(agent.core.registry, "_default", registry)
    from agent.cli.main import app

    shown = CliRunner().invoke(app, ["plugins"]).stdout
    assert "    vendor_rt  options: url, model, azure_endpoint, deployment, api_version\n" in shown
    assert "VOICE_AGENT_OPENAI_API_KEY" in shown.split("vendor_rt", 2)[2].splitlines()[1], "its settings under it"


def test_a_backend_name_taken_keeps_the_first_unless_tryfirst():
    late = load_registry([("vendor", backend_plugin("openai_realtime"))], use_entry_points=False)
    assert late.backends["openai_realtime"].__module__ == "agent.media.backends.openai_realtime"
    assert late.plugins["vendor"].errors == ["model backend 'openai_realtime' is already registered by builtin_backends; kept that one"]
    first = load_registry([("vendor", backend_plugin("openai_realtime", tryfirst=True))], use_entry_points=False)
    assert first.backends["openai_realtime"].__name__ == "VendorBackend"
    assert first.plugins["builtin_backends"].errors == ["model backend 'openai_realtime' is already registered by vendor; kept that one"]


def test_registering_an_instance_instead_of_a_backend_class_is_charged_to_the_plugin():
    registry = load_registry([("vendor", backend_plugin("vendor_rt", value=object()))], use_entry_points=False)
    assert "vendor_rt" not in registry.backends
    assert "expects a ModelBackend class, got object" in registry.plugins["vendor"].errors[0]


def test_a_builtin_backend_whose_module_fails_to_import_is_reported_and_the_others_register(monkeypatch):
    import agent.media.backends.builtin as builtin

    monkeypatch.setattr(builtin, "BACKENDS", (("broken", "agent.media.backends.no_such_backend:Backend"), *builtin.BACKENDS))
    registry = load_registry(use_entry_points=False)
    assert "openai_realtime" in registry.backends and "broken" not in registry.backends
    (error,) = registry.plugins["builtin_backends"].errors
    assert "broken (ModuleNotFoundError" in error
