"""Settings: the agent's own (:class:`Settings`) and each plugin's (:class:`PluginSettings`).

Both come from env vars (``VOICE_AGENT_*``) or ``.env``. The agent's settings
hold what the core needs; a plugin's keys (ilert's API key, PagerDuty's
routing key, a third-party plugin's token) live in the plugin, in a
:class:`PluginSettings` subclass with its own prefix, and the plugin reads
them through its :class:`~agent.core.sources.PluginContext`. Every outside
service has its base URL in one of them, so that fakes, proxies and regional
endpoints can stand in without code changes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "VOICE_AGENT_"
ENV_FILE = ".env"

P = TypeVar("P", bound="PluginSettings")


class Settings(BaseSettings):
    """Runtime configuration of the agent and its server."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # Keyword arguments that are no field here: plugins' settings, by their env var name without
    # the VOICE_AGENT_ prefix (``Settings(ilert_api_key=...)`` is ``VOICE_AGENT_ILERT_API_KEY``).
    _plugin_values: dict[str, Any] = PrivateAttr(default_factory=dict)
    _env_file: Any = PrivateAttr(None)
    _plugin_settings: dict[type, Any] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        """Like any ``BaseSettings``; keywords that name no field here are kept for plugins' settings.

        ``Settings(ilert_api_key="t")`` configures the ilert plugin as
        ``VOICE_AGENT_ILERT_API_KEY=t`` would, so a test or an embedding
        application configures plugins where it configures the agent. Plugin
        settings read the same ``.env`` file as these (none with ``_env_file=None``).
        """
        plugin_values = {k: values.pop(k) for k in list(values) if not k.startswith("_") and k not in type(self).model_fields}
        env_file = values.get("_env_file", ENV_FILE)
        super().__init__(**values)
        self._plugin_values = plugin_values
        self._env_file = Path(env_file).resolve() if isinstance(env_file, (str, Path)) else env_file

    def plugin_settings(self, cls: type[P]) -> P:
        """The settings of one plugin, read once per :class:`Settings` from the same environment and ``.env``.

        Raises ``ValueError`` naming the environment variable when a value is invalid.
        """
        found = self._plugin_settings.get(cls)
        if found is None:
            found = self._plugin_settings[cls] = cls.read(self._env_file, self._plugin_values)
        return found

    # Engines
    engine: Literal["openai", "deterministic", "auto"] = Field(
        "auto",
        description="'openai' (AI nodes talk through their model backend), 'deterministic' (no key, no network; "
        "'offline' is the old name), or 'auto' (the models when every AI node's backend is ready: its keys set, "
        "or a server of your own; else deterministic).",
    )
    openai_api_key: SecretStr | None = None
    openai_realtime_url: str = "wss://api.openai.com/v1/realtime"
    openai_base_url: str = "https://api.openai.com/v1"
    openai_realtime_model: str = "gpt-realtime"
    briefing_model: str | None = Field(
        None, description="Summarise the engineer's briefing with this OpenAI model (default: the template only)."
    )
    briefing_timeout_s: float = Field(2.5, gt=0, description="After this, the template briefing is used.")
    openai_transcription_model: str = "gpt-4o-transcribe"
    model_backend: str = Field(
        "openai_realtime",
        description="The model backend of AI nodes without a `model:` block (`voice-agent plugins` lists the installed ones).",
    )
    turn_detection: Literal["server_vad", "semantic_vad"] = Field(
        "server_vad", description="How the model decides the caller finished a turn."
    )
    vad_threshold: float = Field(0.5, ge=0, le=1, description="server_vad: how loud speech must be (noisy lines: higher).")
    vad_silence_ms: int = Field(500, ge=100, le=3000, description="server_vad: silence that ends a turn.")
    vad_prefix_ms: int = Field(300, ge=0, le=2000, description="server_vad: audio kept from before speech started.")
    vad_eagerness: Literal["low", "medium", "high", "auto"] = Field("auto", description="semantic_vad: how soon to answer.")

    # Twilio
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    public_base_url: str | None = Field(
        None, description="The URL Twilio uses to reach this server (behind a proxy or tunnel)."
    )

    twilio_api_key_sid: str | None = Field(None, description="Use an API key instead of the auth token for REST calls.")
    twilio_api_key_secret: SecretStr | None = None
    validate_signatures: bool = Field(True, description="Check X-Twilio-Signature (never turn off in production).")

    # Server
    flow: str = Field("examples/flows/hotline.yaml", description="The flow file `voice-agent serve` answers calls with.")
    host: str = "0.0.0.0"
    port: int = 8080
    token_secret: SecretStr | None = Field(
        None, description="Key for continuation tokens; the same on every replica (default: derived from the auth token)."
    )
    token_ttl_s: int = Field(4 * 3600, ge=60, description="How long a continuation token stays valid.")
    emergency_number: str | None = Field(
        None, description="Dialled when the server itself fails mid-call, so a caller still reaches a human."
    )
    rest_timeout_s: float = Field(5.0, gt=0)
    rest_retries: int = Field(3, ge=0, le=10)

    # Incident platforms (their own keys live in their plugins' settings: plugins/ilert.py, plugins/pagerduty.py)
    http_timeout_s: float = Field(5.0, gt=0, description="Per-request limit for incident-platform APIs.")
    report_ttl_s: float = Field(
        3600, ge=0, description="How long a caller's report counts as open, so later callers hear they are not the first.",
    )
    recording_wait_s: float = Field(300, gt=0, description="How long to wait after a call for its recording to be ready.")

    # Call handling
    default_region: str = Field(
        "US", description="ISO country used to read phone numbers given without a country code."
    )
    enrichment_deadline_ms: int = Field(1500, ge=0, description="Default time budget of a node's sources.")
    max_call_seconds: int = Field(
        600, ge=10, description="The longest an AI agent may keep a call, counted from its start, on every path; then it hands over.",
    )
    local_vad: bool = Field(True, description="Listen for the caller locally (Silero) while the bot speaks, for fast barge-in.")

    # Logging and privacy
    log_level: str = "INFO"
    log_pii: bool = Field(False, description="Keep caller numbers, e-mails and names in logs (off: redacted).")
    log_json: bool = Field(False, description="Log JSON lines (a call's events carry call_id and event) instead of text.")

    # Shared state: replay protection, rate limits, reported problems (agent/core/shared_state.py)
    state_url: SecretStr | None = Field(
        None, description="Redis URL (redis://, rediss://, unix://) that replicas share; unset: each process keeps its own in memory.",
    )
    state_prefix: str = Field("voice-agent:", description="Prefix of every Redis key (several hotlines can share one Redis).")

    # Abuse protection (agent/server/guards.py)
    rate_limit_calls: int = Field(5, ge=0, description="Calls one number may place per window; more are rejected busy (0: no limit).")
    rate_limit_window_s: float = Field(300, gt=0, description="The rate limit's sliding window.")
    rate_limit_anonymous_calls: int = Field(
        20, ge=0, description="Calls per window from all withheld numbers together (one shared bucket; 0: no limit)."
    )
    replay_window_s: float = Field(24 * 3600, gt=0, description="How long a served CallSid is remembered, to refuse replays.")
    guard_max_entries: int = Field(100_000, ge=1, description="At most this many CallSids / callers are remembered (oldest dropped).")

    @field_validator("engine", mode="before")
    @classmethod
    def _old_engine_name(cls, value: Any) -> Any:
        return engine_named(value)


def engine_named(value: Any) -> Any:
    """'offline' was the deterministic engine's first name: .env files and commands written with it keep working."""
    return "deterministic" if value == "offline" else value


class PluginSettings(BaseSettings):
    """A plugin's own settings: subclass it, give it an ``env_prefix`` of its own, declare fields.

    ::

        class DeployApiSettings(PluginSettings):
            model_config = SettingsConfigDict(env_prefix="VOICE_AGENT_DEPLOY_API_")
            token: SecretStr | None = Field(None, description="API token of the deploy system.")

    ``VOICE_AGENT_DEPLOY_API_TOKEN`` (environment or ``.env``) sets ``token``.
    A plugin reads them with ``context.plugin_settings(DeployApiSettings)`` (a
    :class:`~agent.core.sources.PluginContext`): read once, from the same
    environment and ``.env`` file as the agent's :class:`Settings`, and
    overridable in tests with ``Settings(deploy_api_token="...")``. Keep
    secrets here, never in a flow file. ``voice-agent plugins`` lists each
    plugin's variables.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore")

    #: What the settings are for, in error messages ("ilert"); default: the class name.
    title: ClassVar[str | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if (cls.model_config.get("env_prefix") or "").upper() == ENV_PREFIX:
            raise TypeError(
                f"{cls.__name__}: give the plugin's settings a prefix of their own, e.g. "
                f"model_config = SettingsConfigDict(env_prefix=\"{ENV_PREFIX}MY_PLUGIN_\")"
            )

    @classmethod
    def env_var(cls, field: str) -> str:
        """The environment variable that sets ``field`` (``VOICE_AGENT_ILERT_API_KEY`` for ilert's ``api_key``)."""
        if field not in cls.model_fields:
            raise KeyError(f"{cls.__name__} has no setting {field!r}")
        return f"{cls.model_config.get('env_prefix') or ''}{field}".upper()

    @classmethod
    def env_vars(cls) -> list[str]:
        """Every environment variable these settings read, in field order."""
        return [cls.env_var(name) for name in cls.model_fields]

    @classmethod
    def keyword(cls) -> str:
        """The prefix of these settings' keywords to :class:`Settings` (``ilert_`` for ``VOICE_AGENT_ILERT_``)."""
        prefix = (cls.model_config.get("env_prefix") or "").lower()
        return prefix.removeprefix(ENV_PREFIX.lower())

    @classmethod
    def read(cls: type[P], env_file: Any = ENV_FILE, overrides: dict[str, Any] | None = None) -> P:
        """Read from the environment and ``env_file``; ``overrides`` (``Settings`` keywords) win."""
        keyword = cls.keyword()
        values = {k.removeprefix(keyword): v for k, v in (overrides or {}).items()
                  if keyword and k.startswith(keyword) and k.removeprefix(keyword) in cls.model_fields}
        try:
            return cls(_env_file=env_file, **values)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else ""
                name = cls.env_var(field) if field in cls.model_fields else cls.__name__
                problems.append(f"{name}: {error['msg']}")
            raise ValueError(f"{cls.title or cls.__name__} settings: " + "; ".join(problems)) from None

    def missing(self, field: str, what: str | None = None) -> str | None:
        """None when ``field`` is set, else what to do about it: ``"no <what>: set VOICE_AGENT_..."``."""
        value = getattr(self, field)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value not in (None, ""):
            return None
        described = what or (type(self).model_fields[field].description or field).rstrip(".")
        return f"no {described}: set {self.env_var(field)}"

    def secret(self, field: str) -> str | None:
        """A secret's value (None when unset or empty)."""
        value = getattr(self, field)
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        return text or None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return Settings()
