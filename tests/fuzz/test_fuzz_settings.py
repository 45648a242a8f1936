"""Fuzz: Settings from environment variables — any value is a Settings or a pydantic ValidationError, nothing else."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agent.core.settings import Settings
from tests.fuzz.strategies import cases

FIELDS = sorted(Settings.model_fields)
env_text = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30),
    st.sampled_from(["", "0", "-1", "1e309", "nan", "inf", "true", "yes", "off", "null", "[]", "{}", '{"a": 1}', "[1,2]",
                     "semantic_vad", "server_vad", "openai", "offline", "auto", "https://x", "wss://x/v1/realtime", "ü" * 500,
                     "9" * 400, "0x10", "1_000", " 5 ", "5s"]),
)


@contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("VOICE_AGENT_")}
    for k in saved:
        del os.environ[k]
    os.environ.update({f"VOICE_AGENT_{k.upper()}": v for k, v in values.items()})
    try:
        yield
    finally:
        for k in [k for k in os.environ if k.startswith("VOICE_AGENT_")]:
            del os.environ[k]
        os.environ.update(saved)


@cases(300)
@given(st.dictionaries(st.sampled_from(FIELDS), env_text, max_size=6))
def test_any_environment_is_settings_or_a_validation_error(values: dict[str, str]) -> None:
    with environ(values):
        try:
            settings = Settings(_env_file=None)
        except ValidationError:
            return
    assert settings.engine in ("openai", "deterministic", "auto")
    assert "sk-" not in repr(settings) or not values.get("openai_api_key")  # secrets never in repr


@cases(200)
@given(st.dictionaries(st.sampled_from(FIELDS), st.one_of(env_text, st.integers(), st.floats(), st.none(), st.booleans(),
                                                          st.lists(st.integers(), max_size=3)), max_size=6))
def test_any_keyword_values_are_settings_or_a_validation_error(values: dict[str, object]) -> None:
    try:
        Settings(_env_file=None, **values)
    except ValidationError:
        pass
