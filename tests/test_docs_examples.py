"""Every code block in README.md and docs/*.md is run or checked, so the examples users copy cannot rot (issue 11.3).

Each fenced block is checked by what it is:

- YAML with ``nodes:`` is a flow: it must validate with no problems. YAML with ``turns:`` is a caller script: it
  is written next to where its ``flow:`` resolves (in a copy of ``examples/``) and run with ``voice-agent test``;
  its ``expect`` must hold. YAML of static-source sections (``services:``, ``incidents:``, ...) is a facts file
  and must parse into facts.
- A fragment is marked with an HTML comment on the line before the block and wrapped into a minimal flow:
  ``<!-- fragment: <type> node -->`` (the block holds keys of one node of that type),
  ``<!-- fragment: nodes -->`` (entries of ``nodes:``; each id it branches to but does not define becomes a
  ``hangup`` node) and ``<!-- fragment: flow keys -->`` (top-level keys of a flow).
- A block whose first line is a comment naming a file of the repository (``# examples/.../flow.yaml``) is an
  excerpt: its lines must appear in that file as written (a line ``...`` stands for lines left out), and the file
  itself is checked by what it is.
- Shell blocks (``sh``, ``bash``, ``shell``, ``console``): every ``voice-agent ...`` command is run word for word
  (in-process, with ``CliRunner``) from a copy of the repository root and must exit 0, except the commands in
  :data:`SKIPPED` (network, keys, servers; each with its reason). In ``console`` blocks, the lines after a
  ``$ command`` are its output, and the command must print exactly them. ``NAME=value`` lines must name settings.
- Python blocks compile; a block that starts with its imports is a complete example and is imported (and, when it
  has ``@hookimpl`` functions, loaded as a plugin, which must register without errors).
- TOML blocks parse; entry-point tables must use the group the agent reads.

The README's "A five-minute tour" is run word for word, in order, by :func:`test_readme_tour_runs_word_for_word`.
"""

from __future__ import annotations

import re
import shlex
import shutil
import textwrap
import tomllib
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

import agent.core.registry
from agent.flow.loader import check_flow
from agent.flow.models import Node
from agent.core.registry import ENTRY_POINT_GROUP, default_registry, load_registry
from agent.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLE_PLUGIN = ROOT / "examples" / "custom_enrichment_plugin"
ILERT_EXPORT = ROOT / "tests" / "contracts" / "ilert" / "call_flows" / "example.json"  # ilert's published example
TOUR = "A five-minute tour"

LANGUAGES = {"yaml": "yaml", "yml": "yaml", "sh": "shell", "bash": "shell", "shell": "shell", "console": "console",
             "python": "python", "toml": "toml", "": "text"}
FACT_SECTIONS = {"services", "incidents", "maintenance", "status_pages", "on_call", "custom"}

# Commands in the docs that are not run, and why. A command is skipped when it starts with one of these (after a
# `&&` split); anything else that is not `voice-agent ...` fails the test, so a new kind of command needs a row here.
SKIPPED: dict[str, str] = {
    "python3 -m pip install": "installs packages (network, and changes the environment the suite runs in)",
    "pip install": "installs packages (network, and changes the environment the suite runs in)",
    "python3 -m pytest": "runs the whole suite, this test included",
    "voice-agent serve": "runs until stopped and answers Twilio; tests/test_scale_out.py runs it in subprocesses",
    "cloudflared": "opens a public tunnel (network)",
    "ngrok": "opens a public tunnel (network)",
    "docker": "builds and runs containers; tests/test_deploy_manifests.py checks the files",
    "kubectl": "needs a cluster; tests/test_deploy_manifests.py checks the manifests",
}
SKIPPED_OPTIONS: dict[str, str] = {
    "--engine openai": "needs VOICE_AGENT_OPENAI_API_KEY and the network; tests/test_simulate_openai.py covers it",
}


# --- the blocks ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    doc: str  # path relative to the repository root
    line: int  # the opening fence
    lang: str
    text: str
    marker: str | None  # the `<!-- fragment: ... -->` before the block, if any
    section: str  # the nearest heading above

    @property
    def kind(self) -> str:
        return LANGUAGES.get(self.lang, f"unknown ({self.lang})")

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*fragment:\s*(.*?)\s*-->\s*$")


def extract(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    section = ""
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            if lines[i].startswith("#"):
                section = lines[i].lstrip("#").strip()
            i += 1
            continue
        indent, lang = fence.group(1), fence.group(2)
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        before = [line for line in lines[:start] if line.strip()]
        marker = _MARKER.match(before[-1]) if before else None
        blocks.append(Block(str(path.relative_to(ROOT)), start + 1, lang, "\n".join(body) + "\n",
                            marker.group(1) if marker else None, section))
        i += 1
    return blocks


BLOCKS = [block for doc in DOCS for block in extract(doc)]


def blocks_of(kind: str, *, tour: bool | None = None) -> list[pytest.param]:
    return [pytest.param(b, id=b.id) for b in BLOCKS
            if b.kind == kind and (tour is None or (b.doc == "README.md" and b.section == TOUR) == tour)]


def test_every_block_is_of_a_kind_this_test_checks() -> None:
    unknown = [b.id for b in BLOCKS if b.kind.startswith("unknown")]
    assert not unknown, f"blocks in a language this test does not check: {unknown}; add a checker"
    assert {b.kind for b in BLOCKS} >= {"yaml", "shell", "console", "python", "toml"}
    # Plain blocks (no language) are directory layouts, not something to run: nothing in them looks like a command.
    for block in [b for b in BLOCKS if b.kind == "text"]:
        assert not re.search(r"^(\$ |voice-agent |python)", block.text, re.MULTILINE), f"{block.id}: give it a language"


def test_the_tour_is_found() -> None:
    tour = [b for b in BLOCKS if b.doc == "README.md" and b.section == TOUR]
    assert [b.kind for b in tour] == ["shell"] * 4, [b.id for b in tour]


# --- the environment commands run in -------------------------------------------------------------------------------


def root_copy(tmp_path: Path) -> Path:
    """A folder that looks like the repository root (its entries linked) where commands may write files."""
    cwd = tmp_path / "root"
    cwd.mkdir()
    for entry in ROOT.iterdir():
        if not entry.name.startswith("."):
            (cwd / entry.name).symlink_to(entry)
    return cwd


def examples_copy(tmp_path: Path) -> Path:
    """A copy of examples/ to write doc snippets into, so their relative paths resolve as in the real folders."""
    copy = tmp_path / "examples"
    if not copy.exists():
        shutil.copytree(ROOT / "examples", copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return copy


def install_example_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `pip install -e examples/custom_enrichment_plugin` does, offline: its entry point, found as installed."""
    declared = tomllib.loads((EXAMPLE_PLUGIN / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = declared["project"]["entry-points"][ENTRY_POINT_GROUP]
    site = tmp_path / "site"
    info = site / "voice_agent_deploy_freeze-0.1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: voice-agent-deploy-freeze\nVersion: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()), encoding="utf-8")
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(agent.core.registry, "_default", load_registry())


def example_flow_with_a_typo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/plugins.md: the example flow as flow.yaml, with `windw_minutes: 60` (its files beside it)."""
    cwd = Path.cwd()
    for name in ("facts.yaml", "deploys.json"):
        shutil.copy(EXAMPLE_PLUGIN / name, cwd / name)
    text = (EXAMPLE_PLUGIN / "flow.yaml").read_text(encoding="utf-8")
    assert "window_minutes: 60" in text
    (cwd / "flow.yaml").write_text(text.replace("window_minutes: 60", "windw_minutes: 60"), encoding="utf-8")


def ilert_export(name: str) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        shutil.copy(ILERT_EXPORT, Path.cwd() / name)
    setup.__doc__ = f"{name}: ilert's published example call flow ({ILERT_EXPORT.relative_to(ROOT)})"
    return setup


# Commands the docs show in place of one the test cannot run, done here the offline way.
STAND_INS: dict[str, Callable[[Path, pytest.MonkeyPatch], None]] = {
    "pip install -e examples/custom_enrichment_plugin": install_example_plugin,
}
# What the prose around a command says is already in place (the command is still run word for word).
BEFORE: dict[str, list[Callable[[Path, pytest.MonkeyPatch], None]]] = {
    "voice-agent flow import-ilert exported.json -o flow.yaml": [ilert_export("exported.json")],
    "voice-agent flow import-ilert call-flow.json -o flow.yaml": [ilert_export("call-flow.json")],
    # docs/plugins.md, "With it, a misspelt option is caught": the plugin installed, the option misspelt.
    "voice-agent flow validate flow.yaml": [install_example_plugin, example_flow_with_a_typo],
    # docs/plugins.md, "Testing a plugin offline": the example plugin is installed.
    "voice-agent test examples/custom_enrichment_plugin/callers": [install_example_plugin],
    "voice-agent simulate examples/custom_enrichment_plugin/flow.yaml "
    "--caller examples/custom_enrichment_plugin/callers/checkout_after_release.yaml --json": [install_example_plugin],
}
# Commands that read the terminal: what the test types.
STDIN: dict[str, str] = {"voice-agent chat": "\n"}  # one silence, then Ctrl-D (hang up)


@dataclass
class Command:
    words: list[str]
    expected_output: list[str] | None = None  # console blocks: the lines shown after the command

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass
class Shell:
    commands: list[Command] = field(default_factory=list)
    settings: list[tuple[str, str]] = field(default_factory=list)  # NAME=value lines


def parse_shell(block: Block) -> Shell:
    shell = Shell()
    lines = block.text.replace("\\\n", " ").splitlines()
    console = block.kind == "console"
    for line in lines:
        if console and not line.startswith("$ "):
            if shell.commands and line.strip():
                shell.commands[-1].expected_output = (shell.commands[-1].expected_output or []) + [line.rstrip()]
            continue
        words = shlex.split(line[2:] if console else line, comments=True)
        if not words:
            continue
        if re.fullmatch(r"[A-Z][A-Z0-9_]*=.*", words[0]) and len(words) == 1:
            shell.settings.append(tuple(words[0].split("=", 1)))
            continue
        while words:
            part, words = (words[:words.index("&&")], words[words.index("&&") + 1:]) if "&&" in words else (words, [])
            shell.commands.append(Command(part))
        if console:
            shell.commands[-1].expected_output = []
    return shell


def skip_reason(command: Command) -> str | None:
    for prefix, reason in SKIPPED.items():
        if command.text.startswith(prefix):
            return reason
    for option, reason in SKIPPED_OPTIONS.items():
        if option in command.text:
            return reason
    return None


def run_command(command: Command, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Run one command of a doc block; return why it was skipped, or None when it ran and passed."""
    from agent.cli.main import app

    if command.text in STAND_INS:
        STAND_INS[command.text](tmp_path, monkeypatch)
        return None
    reason = skip_reason(command)
    if reason:
        return reason
    assert command.words[0] == "voice-agent", (
        f"{where}: `{command.text}` is neither a voice-agent command nor in this test's SKIPPED table")
    for setup in BEFORE.get(command.text, []):
        setup(tmp_path, monkeypatch)
    result = CliRunner().invoke(app, command.words[1:], input=STDIN.get(command.text))
    shown = f"{where}: `{command.text}` exited {result.exit_code}\n{result.output}"
    if result.exception and not isinstance(result.exception, SystemExit):
        raise AssertionError(shown) from result.exception
    expected_exit = 0
    if command.expected_output and re.match(r"\S+:\d+: ", command.expected_output[0]):
        expected_exit = 1  # a console block showing `file:line: problem` shows a failing check
    assert result.exit_code == expected_exit, shown
    if command.expected_output:
        assert result.output.rstrip("\n").splitlines() == command.expected_output, shown
    return None


@pytest.fixture
def in_root_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cwd = root_copy(tmp_path)
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("VOICE_AGENT_OPENAI_API_KEY", raising=False)
    return cwd


@pytest.mark.parametrize("block", blocks_of("shell", tour=False) + blocks_of("console"))
def test_shell_block(block: Block, in_root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shell = parse_shell(block)
    known = {f"VOICE_AGENT_{name.upper()}" for name in Settings.model_fields}
    for name, _ in shell.settings:
        assert name in known, f"{block.id}: {name} is not a setting (agent/core/settings.py)"
    assert shell.commands or shell.settings, f"{block.id}: nothing to run"
    for command in shell.commands:
        run_command(command, block.id, tmp_path, monkeypatch)


def test_readme_tour_runs_word_for_word(in_root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README "A five-minute tour": every command of its blocks, in order, as printed."""
    ran = []
    for block in [b for b in BLOCKS if b.doc == "README.md" and b.section == TOUR]:
        for command in parse_shell(block).commands:
            assert run_command(command, block.id, tmp_path, monkeypatch) is None, f"{block.id}: {command.text} was skipped"
            ran.append(command.text)
    assert ran == [
        "voice-agent simulate --caller examples/callers/known_incident.yaml",
        "voice-agent simulate --caller examples/callers/corrects_detail.yaml",
        "voice-agent simulate --caller examples/callers/silent_caller.yaml --json",
        "voice-agent simulate --at 2026-11-28T03:00:00+01:00",
        "voice-agent chat",
        "voice-agent test examples/callers",
        "voice-agent flow validate examples/flows/hotline.yaml",
        "voice-agent flow show examples/flows/hotline.yaml",
        "voice-agent plugins",
        "voice-agent flow import-ilert exported.json -o flow.yaml",
    ]
    assert (in_root_copy / "flow.yaml").is_file()


# --- YAML ----------------------------------------------------------------------------------------------------------


def read_yaml(text: str):
    return YAML(typ="safe").load(text)


def dump_yaml(data) -> str:
    out = StringIO()
    YAML(typ="safe").dump(data, out)
    return out.getvalue()


def excerpt_of(block: Block) -> Path | None:
    """The repository file a block's first line names (`# path` or `# path (what part)`), if any."""
    first = block.text.splitlines()[0]
    match = re.match(r"#\s*(\S+)", first)
    if match and (ROOT / match.group(1)).is_file():
        return ROOT / match.group(1)
    return None


def assert_excerpt(block: Block, path: Path) -> None:
    """The block's lines (after the naming comment) are in ``path`` as written, at any one indentation.

    A line ``...`` (or ``...,``, ``# ...``) stands for lines left out.
    """
    lines = textwrap.dedent("\n".join(block.text.rstrip("\n").splitlines()[1:])).splitlines()
    parts = []
    for line in lines:
        if line.strip() in ("...", "...,", "# ..."):
            parts.append(r"(?:.*\n)*?")
        elif not line.strip():
            parts.append(r"[ \t]*\n")
        else:
            parts.append(("(?P<indent>[ \t]*)" if not any("indent" in p for p in parts) else "(?P=indent)")
                         + re.escape(line.rstrip()) + r"[ \t]*\n")
    text = "\n".join(line.rstrip() for line in path.read_text(encoding="utf-8").splitlines()) + "\n"
    assert re.search("^" + "".join(parts), text, re.MULTILINE), (
        f"{block.id}: the block is not (any longer) what {path.relative_to(ROOT)} says")


def assert_flow_valid(path: Path) -> None:
    flow, problems = check_flow(path, default_registry())
    assert not problems, "\n".join(str(p) for p in problems)
    assert flow is not None


def wrap_fragment(block: Block, data) -> dict:
    marker = block.marker or ""
    if marker == "flow keys":
        return {"name": "docs fragment", "start": "end", "nodes": {"end": {"type": "hangup", "text": "Bye."}}, **data}
    if marker.endswith(" node"):
        node = {"type": marker.removesuffix(" node"), **data}
        nodes = {"fragment": node}
    elif marker == "nodes":
        nodes = dict(data)
    else:
        raise AssertionError(f"{block.id}: unknown fragment marker {marker!r}; see this test's docstring")
    from pydantic import TypeAdapter

    adapter = TypeAdapter(Node)
    for node in list(nodes.values()):
        try:
            branches = adapter.validate_python(node).branches()
        except ValueError:
            continue  # the flow check below reports what is wrong with it, with its line
        for outcome, target in branches.items():
            if marker.endswith(" node") and target is None:
                continue
            if target and target not in nodes:
                nodes[target] = {"type": "hangup", "text": f"(stand-in for `{target}`)"}
    return {"name": "docs fragment", "start": next(iter(nodes)), "nodes": nodes}


def run_script(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`voice-agent test` on a folder holding just this script."""
    from agent.cli.main import app

    if EXAMPLE_PLUGIN.name in script.parts:
        install_example_plugin(tmp_path, monkeypatch)
    result = CliRunner().invoke(app, ["test", str(script.parent)])
    assert result.exit_code == 0, f"voice-agent test {script.parent}\n{result.output}"
    assert "1 passed, 0 failed" in result.output, result.output


def script_home(block: Block, tmp_path: Path) -> Path:
    """A folder in the copy of examples/ where the script's `flow:` resolves as it would for the real scripts."""
    named = excerpt_of(block)
    home = named.parent if named else ROOT / "examples" / "callers"
    copy = examples_copy(tmp_path) / home.relative_to(ROOT / "examples")
    folder = copy.parent / f"docs_{copy.name}"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.mark.parametrize("block", blocks_of("yaml"))
def test_yaml_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = read_yaml(block.text)
    assert isinstance(data, dict), f"{block.id}: a YAML block is a mapping"
    named = excerpt_of(block)
    if named is not None:
        assert_excerpt(block, named)
        if not {"turns", "nodes"} & set(data) and "nodes" in read_yaml(named.read_text(encoding="utf-8")):
            data = {"nodes": "(the whole file is checked)"}  # a part of a flow file: check the file
    if block.marker:
        data = wrap_fragment(block, data)
    if "turns" in data:
        folder = script_home(block, tmp_path)
        script = folder / "script.yaml"
        script.write_text(block.text, encoding="utf-8")
        run_script(script, tmp_path, monkeypatch)
    elif "nodes" in data:
        if named is not None and not block.marker:
            if EXAMPLE_PLUGIN in named.parents:
                install_example_plugin(tmp_path, monkeypatch)
            assert_flow_valid(named)
            return
        path = examples_copy(tmp_path) / "flows" / "docs_flow.yaml"
        path.write_text(block.text if not block.marker else dump_yaml(data), encoding="utf-8")
        assert_flow_valid(path)
    elif set(data) <= FACT_SECTIONS:
        from datetime import datetime, timezone

        from plugins.static_source import parse_facts

        facts = parse_facts(data, datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc))
        assert len(facts) == sum(len(v) for v in data.values())
    else:
        raise AssertionError(f"{block.id}: a YAML block that is neither a flow, a caller script nor facts: "
                             "show a complete one, or mark it `<!-- fragment: ... -->`")


# --- Python and TOML -----------------------------------------------------------------------------------------------


def _starts_with_imports(source: str) -> bool:
    import ast

    body = ast.parse(source).body
    return bool(body) and isinstance(body[0], (ast.Import, ast.ImportFrom))


# The environment complete examples run in: what README's "Configure" step sets, with stand-in values.
EXAMPLE_ENVIRONMENT = {
    "VOICE_AGENT_PUBLIC_BASE_URL": "https://bots.example.com",
    "VOICE_AGENT_TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
    "VOICE_AGENT_TWILIO_AUTH_TOKEN": "docs-example-token",
    "VOICE_AGENT_FLOW": "examples/flows/hotline.yaml",
}


@pytest.mark.parametrize("block", blocks_of("python"))
def test_python_block(block: Block, in_root_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named = excerpt_of(block)
    if named is not None:
        assert_excerpt(block, named)  # the file itself is imported by its own tests
        return
    source = textwrap.dedent(block.text)
    compile(source, block.id, "exec")
    if not _starts_with_imports(source):
        return  # a snippet using names from the prose around it: compiling is all that can be checked
    for name, value in EXAMPLE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    module = types.ModuleType(f"docs_example_{block.line}")
    module.__file__ = str(ROOT / block.doc)
    monkeypatch.setitem(__import__("sys").modules, module.__name__, module)
    exec(compile(source, block.id, "exec"), module.__dict__)  # noqa: S102 - the docs' own example
    if "@hookimpl" in source:
        registry = load_registry([(module.__name__, module)], use_entry_points=False)
        report = registry.plugins[module.__name__]
        assert report.errors == [] and report.provides, f"{block.id}: {report}"


@pytest.mark.parametrize("block", blocks_of("toml"))
def test_toml_block(block: Block) -> None:
    data = tomllib.loads(block.text)
    named = excerpt_of(block)
    if named is not None:
        assert_excerpt(block, named)
    groups = data.get("project", {}).get("entry-points", {})
    assert set(groups) <= {ENTRY_POINT_GROUP}, f"{block.id}: the agent reads entry points of `{ENTRY_POINT_GROUP}` only"
