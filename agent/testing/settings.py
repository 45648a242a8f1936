"""The settings of an agent under test: one builder for every test, ours and a plugin's.

``agent_settings(flow, **overrides)`` gives what a test of the server needs, and no
more: the deterministic engine, no OpenAI key, the Twilio credentials the fakes sign with
(:data:`TOKEN`, :data:`ACCOUNT`) and a public URL (:data:`PUBLIC`). It never reads a
``.env`` file, so a developer's own keys cannot make a test call a real service.
A test that needs more says so in ``overrides``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.core.settings import Settings

PUBLIC = "https://voice.example.test"
TOKEN = "twilio-auth-token"
ACCOUNT = "AC" + "1" * 32
TWILIO_API = "https://twilio.fake"


def agent_settings(flow: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings of an agent under test serving ``flow`` (default: the settings' own default flow)."""
    values: dict[str, Any] = dict(
        public_base_url=PUBLIC, twilio_auth_token=TOKEN, twilio_account_sid=ACCOUNT, engine="deterministic", openai_api_key=None,
    )
    if flow is not None:
        values["flow"] = str(flow)
    return Settings(_env_file=None, **{**values, **overrides})
