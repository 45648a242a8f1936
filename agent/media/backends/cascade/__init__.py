"""The ``cascade`` backend: speech-to-text, an LLM with our tools, text-to-speech, on Pipecat's own services.

For teams that cannot send callers' voices to one realtime cloud: each stage
is any OpenAI-compatible HTTP server by base URL (a Whisper server, vLLM or
Ollama, Kokoro-FastAPI), or another vendor Pipecat ships, where installed::

    model:
      backend: cascade
      stt: {base_url: http://whisper.internal:8000/v1, model: Systran/faster-whisper-small}
      llm: {base_url: http://vllm.internal:8000/v1, model: meta-llama/Llama-3.1-8B-Instruct}
      tts: {base_url: http://kokoro.internal:8880/v1, model: kokoro, voice: alloy}

Keys are settings (:class:`CascadeSettings`, ``VOICE_AGENT_CASCADE_STT_API_KEY``
etc.; ``type: openai`` falls back to ``VOICE_AGENT_OPENAI_API_KEY``), never
options. What the processor does is in :mod:`.processor`; building the
services in :mod:`.services`; the caller's turns in :mod:`.turns` (and when
their words read finished, in :mod:`.turn_end`); the bot's audio in
:mod:`.audio`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pipecat.services.stt_service import SegmentedSTTService
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from agent.core.settings import PluginSettings
from agent.media.backends.base import (
    BackendOptions,
    ModelBackend,
    ModelProcessor,
    ModelRequest,
    openai_hosted,
)
from agent.media.backends.cascade.processor import CascadeProcessor
from agent.media.backends.cascade.services import (
    OPENAI_VOICES,
    ServiceOptions,
    UnavailableService,
    build,
    pooled_url,
    service_class,
    warm_up,
)
from agent.media.backends.cascade.turns import TurnDetector
from agent.media.vad import SileroModel

if TYPE_CHECKING:
    from agent.core.settings import Settings
    from agent.flow.models import AiAgentNode

DEFAULT_LLM = "gpt-4.1-mini"
DEFAULT_TTS = "gpt-4o-mini-tts"
MIN_PAUSE_MS = 100  # shorter is a gap between syllables: an STT request each


class CascadeSettings(PluginSettings):
    """The cascade's keys, one per stage (a self-hosted server usually needs none)."""

    model_config = SettingsConfigDict(env_prefix="VOICE_AGENT_CASCADE_")
    title: ClassVar[str | None] = "cascade"

    stt_api_key: SecretStr | None = Field(None, description="Key of the speech-to-text service (type openai: default VOICE_AGENT_OPENAI_API_KEY).")
    llm_api_key: SecretStr | None = Field(None, description="Key of the LLM service (type openai: default VOICE_AGENT_OPENAI_API_KEY).")
    tts_api_key: SecretStr | None = Field(None, description="Key of the text-to-speech service (type openai: default VOICE_AGENT_OPENAI_API_KEY).")


class CascadeOptions(BackendOptions):
    """The three stages (each optional: OpenAI's API with the settings' key and URL)."""

    stt: ServiceOptions = Field(default_factory=ServiceOptions, description="Speech to text.")
    llm: ServiceOptions = Field(default_factory=ServiceOptions, description="The LLM (streaming chat completions with tools).")
    tts: ServiceOptions = Field(default_factory=ServiceOptions, description="Text to speech.")
    answer_timeout_s: float = Field(6.0, gt=0, le=60, description="No reply within this after the caller's turn: fail over.")
    turn_end_ms: int = Field(640, ge=200, le=3000, description="Silence that always ends the caller's turn.")
    pause_ms: int = Field(
        200, ge=0, le=3000,
        description="Silence inside a turn after which the words so far are transcribed and answered at once if they read "
                    "finished (end with . ? ! and no dangling word like 'and', 'the', 'my'); 100 to less than turn_end_ms; 0: off. "
                    "Costs an STT request per pause.",
    )

    @model_validator(mode="after")
    def _pause_before_turn_end(self) -> CascadeOptions:
        if self.pause_ms and not MIN_PAUSE_MS <= self.pause_ms < self.turn_end_ms:
            raise ValueError(f"pause_ms ({self.pause_ms}) must be from {MIN_PAUSE_MS} to less than turn_end_ms "
                             f"({self.turn_end_ms}), or 0 to turn the early end of turn off")
        return self


Stage = Literal["stt", "llm", "tts"]


class CascadeBackend(ModelBackend):
    """STT -> LLM -> TTS, one set of Pipecat services per call."""

    name: ClassVar[str] = "cascade"
    Options: ClassVar[type[BackendOptions]] = CascadeOptions
    settings_classes = (CascadeSettings,)
    settings_fields = ("openai_api_key", "openai_base_url", "openai_transcription_model")

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._warming: set[asyncio.Future[Any]] = set()

    def key(self, stage: Stage, options: ServiceOptions) -> str | None:
        """The stage's key: its cascade setting, else OpenAI's for type openai."""
        own = self.settings.plugin_settings(CascadeSettings).secret(f"{stage}_api_key")
        if own is None and options.type == "openai" and self.settings.openai_api_key is not None:
            return self.settings.openai_api_key.get_secret_value()
        return own

    def ready(self, options: BackendOptions) -> bool:
        """Every stage has its key, or is an OpenAI-compatible server of your own (a base URL that is not OpenAI's)."""
        assert isinstance(options, CascadeOptions)
        for stage in ("stt", "llm", "tts"):
            service: ServiceOptions = getattr(options, stage)
            try:
                key = self.key(stage, service)  # type: ignore[arg-type]
            except ValueError:
                return False
            own_server = service.type == "ollama" or (  # Ollama is always a server of your own (default localhost:11434)
                service.type == "openai" and not openai_hosted(service.base_url or self.settings.openai_base_url))
            if key is None and not own_server:
                return False
        return True

    def problems(self, options: BackendOptions, node: AiAgentNode) -> list[str]:
        assert isinstance(options, CascadeOptions)
        found: list[str] = []
        for stage in ("stt", "llm", "tts"):
            service: ServiceOptions = getattr(options, stage)
            try:
                service_class(stage, service.type)  # type: ignore[arg-type]
            except UnavailableService as exc:
                found.append(str(exc))
                continue
            variable = CascadeSettings.env_var(f"{stage}_api_key")
            try:
                key = self.key(stage, service)  # type: ignore[arg-type]
            except ValueError as exc:  # a setting that does not parse
                found.append(f"{exc}; correct {variable}")
                continue
            # OpenAI's own API without a key is no problem here: live calls then use the deterministic mode
            # (VOICE_AGENT_ENGINE=auto), as on openai_realtime; a self-hosted server may need no key at all.
            if key is None and service.type not in ("openai", "ollama"):
                found.append(f"no key for the {stage} service ({service.type}); set {variable} (environment or .env)")
        voice = options.tts.voice or node.voice
        if options.tts.type == "openai" and voice not in OPENAI_VOICES:
            found.append(
                f"voice {voice!r} is not one of OpenAI's ({', '.join(sorted(OPENAI_VOICES))}), the only names Pipecat's OpenAI TTS "
                "sends; choose one of them (Kokoro-FastAPI and speaches map them to their own voices)"
            )
        return found

    def endpoints(self, options: CascadeOptions) -> list[tuple[str, str | None]]:
        """``(base URL, key)`` of each stage whose service sends through the process's connection pools."""
        found = []
        for stage in ("stt", "llm", "tts"):
            service: ServiceOptions = getattr(options, stage)
            url = pooled_url(stage, service, self.settings.openai_base_url)  # type: ignore[arg-type]
            if url is None:
                continue
            try:
                key = self.key(stage, service)  # type: ignore[arg-type]
            except ValueError:  # a key setting that does not parse: ``problems`` names it; warm without
                key = None
            found.append((url, key))
        return found

    def connect_early(self, options: BackendOptions) -> asyncio.Future[Any] | None:
        """Open (or find idle) a connection per stage to its server while Twilio opens the stream: the greeting's
        chat completion and speech then start without a TCP and TLS handshake."""
        assert isinstance(options, CascadeOptions)
        endpoints = self.endpoints(options)
        return asyncio.ensure_future(warm_up(endpoints)) if endpoints else None

    def processor(self, request: ModelRequest) -> ModelProcessor:
        options = request.options
        assert isinstance(options, CascadeOptions)
        settings, session = request.settings, request.session
        if request.preconnected is None:  # nothing started early (the webhook went to another replica): warm up now
            self._warm_now(options)
        base = settings.openai_base_url
        stt = build("stt", options.stt, key=self.key("stt", options.stt), default_url=base,
                    default_model=settings.openai_transcription_model if options.stt.type == "openai" else None,
                    language=session.language)
        llm = build("llm", options.llm, key=self.key("llm", options.llm), default_url=base,
                    default_model=DEFAULT_LLM if options.llm.type == "openai" else None)
        tts = build("tts", options.tts, key=self.key("tts", options.tts), default_url=base,
                    default_model=DEFAULT_TTS if options.tts.type == "openai" else None,
                    voice=session.voice, language=session.language)
        return CascadeProcessor(
            stt=stt, llm=llm, tts=tts, turns=TurnDetector(SileroModel.shared(), stop_ms=options.turn_end_ms,
                                                          pause_ms=options.pause_ms if isinstance(stt, SegmentedSTTService) else 0),
            instructions=request.instructions, tools=request.tools.schemas(), greeting=session.greeting,
            on_decision=request.on_decision, on_failure=request.on_failure, call_id=request.call_id,
            answer_timeout_s=options.answer_timeout_s,
        )

    def _warm_now(self, options: CascadeOptions) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # services built outside a call (a synchronous check): nothing to warm
            return
        warming = self.connect_early(options)
        if warming is not None:
            self._warming.add(warming)  # the loop keeps only a weak reference to a task
            warming.add_done_callback(self._warming.discard)
