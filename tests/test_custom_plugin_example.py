"""The example plugin package (examples/custom_enrichment_plugin) is found through its entry point and used.

Nothing is pip-installed: each test writes a ``*.dist-info`` folder (what an
install would write) into ``tmp_path`` and puts it and the example package on
``sys.path``, so ``importlib.metadata`` finds the entry point like it would
after ``pip install -e examples/custom_enrichment_plugin``. No network.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agent.core.registry
from agent.core.call import Call
from agent.core.facts import CustomFact
from agent.flow.loader import load_flow
from agent.flow.models import SourceConfig
from agent.core.registry import Registry, load_registry
from agent.simulation.scripts import ScriptedCaller, load_script, mismatches
from agent.core.sources import SourceConfigError, build_source, fetch_facts
from agent.plugin_api import PluginContext, Settings
from agent.simulation.simulator import WalkOptions, at_time, walk

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "custom_enrichment_plugin"
FLOW = EXAMPLE / "flow.yaml"
SCRIPT = EXAMPLE / "callers" / "checkout_after_release.yaml"
RECENT = "Checkout API version 2.4.1 was deployed 12 minutes ago"


def _fake_install(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """Write the metadata an installer would: ``<dist>.dist-info/{METADATA,entry_points.txt}``."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n", encoding="utf-8")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[voice_agent]\n{lines}", encoding="utf-8")


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """The installed plugins plus the example package, found through its entry point."""
    declared = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = declared["project"]["entry-points"]["voice_agent"]  # exactly what the package declares
    _fake_install(tmp_path, "deploy_freeze_example", entry_points)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return load_registry()


def test_entry_point_registers_the_source_and_the_intent(registry: Registry) -> None:
    report = registry.plugins["deploy_freeze"]
    assert report.errors == []
    assert report.provides == {"source": ["deploy_freeze"], "intent": ["deployment_problem"]}
    assert registry.intents["deployment_problem"].label == "Problem after a deployment"
    assert "deploy_freeze" in registry.sources
    # the built-ins load alongside it
    assert {"static"} <= set(registry.sources) and {"incident", "talk_to_human"} <= set(registry.intents)
    assert registry.errors == []


def test_example_flow_validates_with_the_plugin(registry: Registry) -> None:
    flow = load_flow(FLOW, registry)
    types = [s.type for s in flow.nodes["agent"].enrichment.sources]
    assert types == ["static", "deploy_freeze"]


def test_simulated_call_fetches_recent_deployments(registry: Registry) -> None:
    script = load_script(SCRIPT)
    call = Call(caller_number=script.caller_number, now=at_time(script.at))
    options = WalkOptions(registry=registry, settings=Settings(), base_dir=EXAMPLE)
    outcome = asyncio.run(walk(load_flow(FLOW, registry), ScriptedCaller(script.caller_turns()), call, options))

    assert mismatches(script.expect, outcome) == []
    assert outcome.intent == "deployment_problem" and outcome.branch == "alert"
    assert "enrichment.deploy_freeze" in outcome.timings_ms  # the source ran and was not dropped
    deploys = [f for f in call.facts if isinstance(f, CustomFact)]
    # only the deployment inside window_minutes (60): Login (105 min) and Reporting (yesterday) are left out
    assert [(f.text, f.services, f.source) for f in deploys] == [(RECENT, ["Checkout API"], "deploy_freeze")]
    assert deploys[0].data["author"] == "dana" and deploys[0].disclose is True


def test_caller_hears_about_the_recent_deployment(registry: Registry) -> None:
    script = load_script(SCRIPT)
    call = Call(caller_number=script.caller_number, now=at_time(script.at))
    options = WalkOptions(registry=registry, settings=Settings(), base_dir=EXAMPLE)
    asyncio.run(walk(load_flow(FLOW, registry), ScriptedCaller(script.caller_turns()), call, options))
    assert any(RECENT in t.text for t in call.transcript if t.speaker == "agent")
    assert any(f.startswith("custom:") for f in call.facts_used)


def test_cli_simulate_json_uses_the_plugin(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli.main import app

    monkeypatch.setattr(agent.core.registry, "_default", registry)  # default_registry() caches the process-wide one
    result = CliRunner().invoke(app, ["simulate", str(FLOW), "--caller", str(SCRIPT), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    outcome = payload["outcome"]
    assert outcome["intent"] == "deployment_problem"
    assert outcome["fields"]["affected_services"] == ["Checkout API"]
    assert "enrichment.deploy_freeze" in outcome["timings_ms"]
    assert outcome["alerts"][0]["summary"].startswith("Problem after a deployment")


def test_cli_plugins_lists_the_example(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli.main import app

    monkeypatch.setattr(agent.core.registry, "_default", registry)
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "deploy_freeze  [ok]\n    intent: deployment_problem\n    source: deploy_freeze\n" in result.stdout


def test_deploy_source_on_its_own(registry: Registry, tmp_path: Path) -> None:
    """A source tested offline: built with a PluginContext, fetched with a fixed clock; then built as a flow would."""
    from deploy_freeze.plugin import DeployFreezeSource

    (tmp_path / "log.json").write_text(json.dumps({"deployments": [
        {"service": "Search", "version": "3.0.0", "deployed_at": "2025-03-04T09:59:30Z"},
        {"service": "Search", "version": "2.9.9", "deployed_at": "2025-03-04T09:20:00"},  # naive: read as UTC
        {"service": "Search", "version": "3.0.1", "deployed_at": "2025-03-04T10:30:00Z"},  # after the call
    ]}), encoding="utf-8")
    context = PluginContext(settings=Settings(), base_dir=tmp_path)
    source = DeployFreezeSource(DeployFreezeSource.Config(path="log.json", window_minutes=45, disclose=False), context)

    facts = asyncio.run(source.fetch(Call(now=datetime(2025, 3, 4, 10, 0, tzinfo=timezone.utc))))
    assert [f.text for f in facts] == [
        "Search version 3.0.0 was deployed less than a minute ago",
        "Search version 2.9.9 was deployed 40 minutes ago",
    ]
    assert all(f.disclose is False for f in facts)

    # Built as a flow builds it: named after the entry, facts tagged with that name, options checked.
    config = SourceConfig(type="deploy_freeze", name="search_deploys", path="log.json", window_minutes=45)
    built = build_source(config, registry.sources, context)
    assert built.name == "search_deploys"
    result = asyncio.run(fetch_facts([built], Call(now=datetime(2025, 3, 4, 10, 0, tzinfo=timezone.utc)), deadline_s=1.0))
    assert {f.source for f in result.facts} == {"search_deploys"} and len(result.facts) == 2
    with pytest.raises(SourceConfigError, match="windw_minutes"):
        build_source(SourceConfig(type="deploy_freeze", path="log.json", windw_minutes=5), registry.sources, context)
    with pytest.raises((SourceConfigError, FileNotFoundError), match="missing.json"):
        build_source(SourceConfig(type="deploy_freeze", path="missing.json"), registry.sources, context)


def test_the_example_imports_only_the_plugin_api() -> None:
    """What docs/plugins.md promises: a plugin package needs nothing from the agent but agent.plugin_api."""
    import ast

    imported = set()
    for path in (EXAMPLE / "deploy_freeze").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert {m for m in imported if m == "agent" or m.startswith("agent.")} == {"agent.plugin_api"}


BROKEN_ON_IMPORT = """\
raise RuntimeError("cannot reach the secrets store")
"""

BROKEN_IN_HOOK = """\
from agent import hookimpl


class StillHere:
    def __init__(self, config, context):
        pass

    async def fetch(self, call):
        return []


@hookimpl
def register_intents(register):
    raise ValueError("bad intent table")


@hookimpl
def register_enrichment_sources(register):
    register("still_here", StillHere)


@hookimpl
def call_started(call):
    raise RuntimeError("metrics endpoint down")
"""


def test_broken_plugins_are_reported_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vf_example_broken_import.py").write_text(BROKEN_ON_IMPORT, encoding="utf-8")
    (tmp_path / "vf_example_broken_hook.py").write_text(textwrap.dedent(BROKEN_IN_HOOK), encoding="utf-8")
    _fake_install(tmp_path, "broken_plugins", {
        "explodes_on_import": "vf_example_broken_import",
        "explodes_in_hook": "vf_example_broken_hook",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_registry()

    on_import = registry.plugins["explodes_on_import"]
    assert on_import.provides == {}
    assert len(on_import.errors) == 1 and "failed to load" in on_import.errors[0]
    assert "cannot reach the secrets store" in on_import.errors[0]

    in_hook = registry.plugins["explodes_in_hook"]
    assert any("register_intents raised" in e and "bad intent table" in e for e in in_hook.errors)
    assert in_hook.provides["source"] == ["still_here"]  # its other hooks still count
    assert "still_here" in registry.sources

    # the built-ins are untouched
    for name in ("builtin_intents", "builtin_gathers", "static_source", "default_fallback"):
        assert registry.plugins[name].errors == [], name
    assert {"incident", "talk_to_human"} <= set(registry.intents)
    assert "static" in registry.sources and "default" in registry.fallbacks and "caller_name" in registry.gathers
    assert {e.split(":")[0] for e in registry.errors} == {"explodes_on_import", "explodes_in_hook"}

    # a lifecycle hook that raises is logged and ignored; the call goes on
    asyncio.run(registry.call_started(Call()))

    from agent.cli.main import app

    monkeypatch.setattr(agent.core.registry, "_default", registry)
    shown = CliRunner().invoke(app, ["plugins"]).stdout
    assert "explodes_on_import  [FAILED]" in shown
    assert "explodes_in_hook  [ok]" in shown and "register_intents raised" in shown
