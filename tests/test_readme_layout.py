"""The README's layout section is a newcomer's map: it names every package of agent/, and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_layout_matches_the_tree():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Layout") :]
    block = section[section.index("```") + 3 : section.index("```", section.index("```") + 3)]
    listed = set(re.findall(r"^  ([a-z_]+(?:/|\.py))", block, re.M))
    actual = {p.name + "/" for p in (ROOT / "agent").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    actual |= {p.name for p in (ROOT / "agent").glob("*.py") if p.name != "__init__.py"}
    assert listed == actual, f"README lists {sorted(listed - actual)} that do not exist; misses {sorted(actual - listed)}"
    for top in ("agent/", "plugins/", "pipelines/", "examples/", "tests/", "benchmarks/"):
        assert re.search(rf"^{re.escape(top)}", block, re.M), top
