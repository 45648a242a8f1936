"""The ``openai_realtime`` backend: OpenAI's Realtime API (GA), Azure OpenAI's, or any compatible server, mu-law straight through.

The measured fast path of a live call (:class:`OpenAIRealtimeProcessor`):
Twilio's 8 kHz mu-law goes to the model as it came and back, with no
resampling. Options (an AI node's ``model:`` block; all optional)::

    model: {backend: openai_realtime}                          # OpenAI, VOICE_AGENT_OPENAI_* settings
    model: {backend: openai_realtime, url: wss://llm.internal/v1, model: my-realtime}   # a compatible server
    model: {backend: openai_realtime, azure_endpoint: https://acme.openai.azure.com, deployment: gpt-realtime}

Azure's key is a setting (``VOICE_AGENT_AZURE_OPENAI_API_KEY``), sent as the
``api-key`` header; OpenAI's (``VOICE_AGENT_OPENAI_API_KEY``) as
``Authorization: Bearer``. The URL shapes are in
:meth:`agent.conversation.realtime_client.RealtimeEndpoint.azure`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from agent.conversation.realtime_client import RealtimeConfig, RealtimeConnection, RealtimeEndpoint
from agent.core.settings import PluginSettings
from agent.media.backends.base import BackendOptions, ModelBackend, ModelProcessor, ModelRequest, openai_hosted
from agent.media.processors.realtime import OpenAIRealtimeProcessor

if TYPE_CHECKING:
    from agent.flow.models import AiAgentNode


class AzureOpenAISettings(PluginSettings):
    """Azure OpenAI's key (the endpoint and deployment are a flow's ``model:`` options: not secret)."""

    model_config = SettingsConfigDict(env_prefix="VOICE_AGENT_AZURE_OPENAI_")
    title: ClassVar[str | None] = "Azure OpenAI"

    api_key: SecretStr | None = Field(None, description="Azure OpenAI API key (of the resource in `azure_endpoint`)")


class OpenAIRealtimeOptions(BackendOptions):
    """Where the realtime model is: OpenAI (the default), a compatible server by ``url``, or Azure OpenAI."""

    url: str | None = Field(None, description="Base WebSocket URL of an OpenAI-compatible realtime API (default: VOICE_AGENT_OPENAI_REALTIME_URL).")
    model: str | None = Field(None, description="The model (default: VOICE_AGENT_OPENAI_REALTIME_MODEL).")
    azure_endpoint: str | None = Field(None, description="Azure OpenAI resource, https://<resource>.openai.azure.com.")
    deployment: str | None = Field(None, description="Azure: the realtime model's deployment name.")
    api_version: str | None = Field(None, description="Azure: a dated preview API version (default: the GA v1 API).")

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("ws", "wss"):
            raise ValueError(f"not a WebSocket URL: {value!r}; write it as wss://host/v1 (ws:// only for a local server)")
        return value

    @field_validator("azure_endpoint")
    @classmethod
    def _resource_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.path.strip("/") or parts.query:
            raise ValueError(
                f"not the resource's URL alone: {value!r}; "
                "write it as https://<resource>.openai.azure.com (the path and deployment are added for you)"
            )
        return value

    @model_validator(mode="after")
    def _one_dialect(self) -> OpenAIRealtimeOptions:
        if self.azure_endpoint is None:
            azure_only = [key for key in ("deployment", "api_version") if getattr(self, key) is not None]
            if azure_only:
                raise ValueError(f"`{azure_only[0]}` is an Azure option; add `azure_endpoint: https://<resource>.openai.azure.com`, or remove it")
            return self
        if self.url is not None:
            raise ValueError("`url` and `azure_endpoint` both name the server; keep one of them")
        if self.model is not None:
            raise ValueError("on Azure the deployment names the model; write `deployment:` instead of `model:`")
        if not self.deployment:
            raise ValueError("`azure_endpoint` needs `deployment`; add `deployment: <your realtime deployment's name>`")
        return self

    @property
    def azure(self) -> bool:
        return self.azure_endpoint is not None


class OpenAIRealtimeBackend(ModelBackend):
    """The realtime model over one WebSocket per call (OpenAI, Azure OpenAI or compatible)."""

    name: ClassVar[str] = "openai_realtime"
    Options: ClassVar[type[BackendOptions]] = OpenAIRealtimeOptions
    settings_classes = (AzureOpenAISettings,)
    settings_fields = ("openai_api_key", "openai_realtime_url", "openai_realtime_model", "openai_transcription_model")

    def endpoint(self, options: OpenAIRealtimeOptions) -> RealtimeEndpoint:
        """Where this node's sessions connect, and with which key."""
        settings = self.settings
        if options.azure:
            key = self.settings.plugin_settings(AzureOpenAISettings).secret("api_key") or ""
            return RealtimeEndpoint.azure(options.azure_endpoint or "", options.deployment or "", key, options.api_version)
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        return RealtimeEndpoint.openai(options.url or settings.openai_realtime_url, self.model(options), key)

    def model(self, options: OpenAIRealtimeOptions) -> str:
        """The session's model: Azure's deployment, else the option or the setting."""
        return options.deployment or options.model or self.settings.openai_realtime_model

    def ready(self, options: BackendOptions) -> bool:
        """An Azure key for Azure; else OpenAI's key, or a URL of a compatible server of your own (which may need none)."""
        assert isinstance(options, OpenAIRealtimeOptions)
        if options.azure:
            return self.settings.plugin_settings(AzureOpenAISettings).secret("api_key") is not None
        return self.settings.openai_api_key is not None or not openai_hosted(options.url or self.settings.openai_realtime_url)

    def problems(self, options: BackendOptions, node: AiAgentNode) -> list[str]:
        assert isinstance(options, OpenAIRealtimeOptions)
        if not options.azure:
            return []  # no OpenAI key: live calls use the deterministic mode (VOICE_AGENT_ENGINE=auto)
        found = []
        variable = AzureOpenAISettings.env_var("api_key")
        try:
            if self.settings.plugin_settings(AzureOpenAISettings).secret("api_key") is None:
                found.append(f"no Azure OpenAI API key; set {variable} (environment or .env) to the key of {options.azure_endpoint}")
        except ValueError as exc:  # a setting that does not parse
            found.append(f"{exc}; correct {variable}")
        if options.api_version:
            # pipecat/services/azure/realtime/llm.py: dated api-versions serve the superseded preview
            # (beta) protocol, which refuses the GA session and names its events differently.
            found.append(
                f"`api_version: {options.api_version}` selects Azure's preview realtime API, whose (beta) protocol this "
                "backend does not speak; remove `api_version` to use Azure's GA endpoint (/openai/v1/realtime)"
            )
        return found

    def connect_early(self, options: BackendOptions) -> asyncio.Future[Any] | None:
        assert isinstance(options, OpenAIRealtimeOptions)
        return asyncio.ensure_future(RealtimeConnection.open(self.endpoint(options)))

    def processor(self, request: ModelRequest) -> ModelProcessor:
        options = request.options
        assert isinstance(options, OpenAIRealtimeOptions)
        settings, session = request.settings, request.session
        config = RealtimeConfig(
            endpoint=self.endpoint(options), model=self.model(options),
            instructions=request.instructions, tools=request.tools.schemas(), greeting=session.greeting,
            voice=session.voice, speed=request.node.speed, language=session.language,
            transcription_model=settings.openai_transcription_model,
            turn_detection=RealtimeConfig.turn_detection_from(settings),
        )
        return OpenAIRealtimeProcessor(
            config, on_decision=request.on_decision, on_failure=request.on_failure, call_id=request.call_id,
            preconnected=request.preconnected,
        )
