"""The package's layering rules, enforced (issue 12 item 3).

The rules are import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``);
each one is a test here, so the README's test command (which CI runs) fails with the
rule's name and the import chain that breaks it. ``lint-imports`` runs them by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]

# A contract broken only by a file someone else is rewriting right now. Strict: once the
# file is fixed the test turns red (XPASS), and whoever sees it removes the entry.
KNOWN_BROKEN: dict[str, str] = {}  # contract id -> the file that breaks it, and what it is to do instead


def lint_imports(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the interpreter running the tests, without a cache in the tree."""
    env = {**os.environ, "PYTHONPATH": str(cwd), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--no-cache", "--no-logo", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def broken_section(output: str) -> str:
    """What import-linter says under "Broken contracts": each rule's name and its import chains."""
    _, found, rest = output.partition("Broken contracts")
    return (found + rest).strip() if found else output.strip()


@pytest.mark.parametrize(
    "contract",
    [
        pytest.param(c, id=c["id"], marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[c["id"]])])
        if c["id"] in KNOWN_BROKEN else pytest.param(c, id=c["id"])
        for c in CONTRACTS
    ],
)
def test_import_contract_is_kept(contract: dict) -> None:
    result = lint_imports("--contract", contract["id"])
    if result.returncode != 0:
        pytest.fail(
            f"Import rule broken: {contract['name']}\n\n{broken_section(result.stdout + result.stderr)}",
            pytrace=False,
        )
    assert f"{contract['name']} KEPT" in " ".join(result.stdout.split())


def test_a_deliberate_violation_fails_with_the_rules_name(tmp_path: Path) -> None:
    """A copy of the code where the core imports the server: the check fails, naming the rule and the line."""
    for package in ("agent", "plugins", "pipelines"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    events = tmp_path / "agent" / "core" / "events.py"
    source = events.read_text()
    events.write_text(source + "\nfrom agent.server import metrics as _deliberate_violation  # noqa: E402\n")
    violation_line = source.count("\n") + 2

    result = lint_imports("--contract", "core-and-flow-stay-out-of-transport", cwd=tmp_path)

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, output
    assert "The core and the flow layer import nothing from server, CLI, transport, media or Pipecat BROKEN" in output
    assert "agent.core is not allowed to import agent.server" in output
    assert f"agent.core.events -> agent.server.metrics (l.{violation_line})" in output


def test_every_production_package_is_held_to_the_testing_rule() -> None:
    """A new package under agent/ is checked too: it must be named in the rule, or the rule misses it."""
    rule = next(c for c in CONTRACTS if c["id"] == "production-not-testing")
    production = {f"agent.{p.stem}" for p in (ROOT / "agent").iterdir()
                  if (p.is_dir() and (p / "__init__.py").exists() or p.suffix == ".py") and p.stem not in ("__init__", "testing")}
    missing = sorted((production | {"plugins", "pipelines"}) - set(rule["source_modules"]))
    assert not missing, f"{rule['name']}: add {missing} to its source_modules in pyproject.toml"
