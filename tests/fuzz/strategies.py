"""Strategies shared by the fuzz tests: arbitrary JSON, nasty text, and how many cases each surface gets."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st


def cases(n: int) -> settings:
    """``n`` derandomized examples on top of the ``fuzz`` profile (see conftest.py)."""
    return settings(max_examples=n, derandomize=True, database=None, deadline=None)


# Text that breaks parsers: control characters, surrogates-free unicode, NULs, very long runs.
nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "", " ", "\x00", "\n", "\r\n", "\ufeff", "é", "💥", "{", "[", "null", "NaN", "-0", "1e999",
        "%s%s%n", "../../etc/passwd", "<Say>x</Say>", "' OR 1=1 --", "\u202e", "A" * 10_000,
    ]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), nasty_text,
)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    return st.recursive(
        json_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.text(max_size=12), children, max_size=5),
        ),
        max_leaves=max_leaves,
    )


def deeply_nested(depth: int) -> str:
    """JSON nested ``depth`` levels deep (past the recursion limit for large depths)."""
    return "[" * depth + "]" * depth


def to_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False)
