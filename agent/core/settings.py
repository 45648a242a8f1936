"""The one settings class: everything configurable, from env vars (``VOICE_AGENT_*``) or ``.env``.

Every outside service has its base URL here so that fakes, proxies and
regional endpoints can stand in without code changes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration of the agent and its server."""

    model_config = SettingsConfigDict(
        env_prefix="VOICE_AGENT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # Engines
    engine: str = Field(
        "auto",
        description="'openai', 'offline', or 'auto' (openai when an API key is set, else offline).",
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

    # Incident platforms
    ilert_api_key: SecretStr | None = Field(None, description="ilert API token (read incidents, services, on-call).")
    ilert_base_url: str = Field("https://api.ilert.com", description="ilert API; EU and US regions differ.")
    ilert_alert_source_key: SecretStr | None = Field(None, description="Integration key of the ilert alert source calls open alerts in.")
    pagerduty_api_key: SecretStr | None = Field(None, description="PagerDuty REST API key (read-only is enough).")
    pagerduty_base_url: str = "https://api.pagerduty.com"
    pagerduty_events_url: str = "https://events.pagerduty.com"
    pagerduty_routing_key: SecretStr | None = Field(None, description="Events API v2 integration (routing) key.")
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

    def use_openai(self) -> bool:
        """Whether live calls should use the realtime model."""
        if self.engine == "openai":
            return True
        if self.engine == "offline":
            return False
        return self.openai_api_key is not None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return Settings()
