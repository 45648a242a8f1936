"""Pipecat's own STT, LLM and TTS services for a cascade, picked by ``type`` from a flow's ``model:`` block.

``type: openai`` (the default) is OpenAI's HTTP API at a base URL, so any
server that speaks it stands in: a Whisper server (speaches,
faster-whisper-server), vLLM or Ollama, a local TTS (Kokoro-FastAPI). The
other vendors Pipecat ships are built from the same few options where their
extra is installed; a missing one is a clear error naming
``pip install 'pipecat-ai[<extra>]'``. Keys are never options: they come
from :class:`CascadeSettings` (``VOICE_AGENT_CASCADE_*``), else OpenAI's key
for ``type: openai``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Literal

from pipecat.services.ollama.llm import OLLamaLLMService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.tts import VALID_VOICES, OpenAITTSService
from pydantic import BaseModel, ConfigDict, Field

from agent.core.http_client import origin, pooled_client, warm
from agent.media import mulaw

OPENAI_TTS_RATE = 24000  # /audio/speech response_format=pcm: 24 kHz 16-bit mono (platform.openai.com/docs/guides/text-to-speech)
OPENAI_VOICES = frozenset(VALID_VOICES)  # what Pipecat's OpenAI TTS accepts (any other voice: an error per sentence)
TTS_CHUNK_S = 0.1  # audio handed on per read of a TTS's HTTP stream
NO_KEY = "none"  # the openai SDK refuses to start without a key; a self-hosted server ignores it
OPENAI_URL = "https://api.openai.com/v1"  # the openai SDK's base URL when none is given (openai/_client.py)


@dataclass(frozen=True)
class Vendor:
    """Where Pipecat keeps a vendor's service, the extra that installs it, and how its constructor names the key and URL."""

    target: str  # "module:Class"
    extra: str | None  # pipecat-ai[<extra>]; None: always installed
    key_arg: str | None = "api_key"
    url_arg: str | None = None  # the constructor argument our ``base_url`` goes to (None: the vendor's fixed endpoint)


STT_VENDORS: dict[str, Vendor] = {
    "openai": Vendor("pipecat.services.openai.stt:OpenAISTTService", None, url_arg="base_url"),
    "deepgram": Vendor("pipecat.services.deepgram.stt:DeepgramSTTService", "deepgram", url_arg="base_url"),
    "azure": Vendor("pipecat.services.azure.stt:AzureSTTService", "azure"),
}
LLM_VENDORS: dict[str, Vendor] = {
    "openai": Vendor("agent.media.backends.cascade.services:OpenAILLM", None, url_arg="base_url"),
    "ollama": Vendor("agent.media.backends.cascade.services:OllamaLLM", None, url_arg="base_url"),
    "azure": Vendor("pipecat.services.azure.llm:AzureLLMService", "azure", url_arg="endpoint"),
    "anthropic": Vendor("pipecat.services.anthropic.llm:AnthropicLLMService", "anthropic"),
    "google": Vendor("pipecat.services.google.llm:GoogleLLMService", "google"),
}
TTS_VENDORS: dict[str, Vendor] = {
    "openai": Vendor("agent.media.backends.cascade.services:OpenAITTS", None, url_arg="base_url"),
    "cartesia": Vendor("pipecat.services.cartesia.tts:CartesiaTTSService", "cartesia", url_arg="url"),
    "elevenlabs": Vendor("pipecat.services.elevenlabs.tts:ElevenLabsTTSService", "elevenlabs", url_arg="url"),
    "deepgram": Vendor("pipecat.services.deepgram.tts:DeepgramTTSService", "deepgram", url_arg="base_url"),
    "azure": Vendor("pipecat.services.azure.tts:AzureTTSService", "azure"),
}
VENDORS = {"stt": STT_VENDORS, "llm": LLM_VENDORS, "tts": TTS_VENDORS}


class ServiceOptions(BaseModel):
    """One stage of the cascade (the flow's ``stt:``, ``llm:`` or ``tts:``)."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field("openai", description="Which of Pipecat's services: openai (any OpenAI-compatible server by base_url), or a vendor.")
    base_url: str | None = Field(None, description="The server (default: VOICE_AGENT_OPENAI_BASE_URL for openai; the vendor's own otherwise).")
    model: str | None = Field(None, description="The model (default: the service's).")
    language: str | None = Field(None, description="STT/TTS language code, e.g. en or de (default: the call's language).")
    voice: str | None = Field(None, description="TTS voice (default: the AI node's voice).")
    region: str | None = Field(None, description="Azure Speech region (type: azure).")


class UnavailableService(RuntimeError):
    """A configured service is unknown or its package not installed: "what is wrong; what to do" (the pip extra)."""


def service_class(stage: Literal["stt", "llm", "tts"], kind: str) -> type:
    """The Pipecat class of ``kind`` for a stage; ``UnavailableService`` naming the extra when not installed."""
    vendors = VENDORS[stage]
    vendor = vendors.get(kind)
    if vendor is None:
        raise UnavailableService(f"unknown {stage} type {kind!r}; choose one of {', '.join(sorted(vendors))}")
    module, _, name = vendor.target.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except Exception as exc:  # Pipecat raises its own Exception naming the missing SDK
        extra = vendor.extra or "openai"
        raise UnavailableService(
            f"{stage} type {kind!r} is not installed ({type(exc).__name__}: {exc}); "
            f"pip install 'pipecat-ai[{extra}]', or choose another `{stage}.type`"
        ) from exc


class OpenAITTS(OpenAITTSService):
    """Pipecat's OpenAI TTS, passing audio on every ``TTS_CHUNK_S`` instead of every 0.5 s.

    ``TTSService.chunk_size`` is half a second of audio, and the service reads
    the HTTP stream in chunks of that size: the caller would wait for the
    first 0.5 s of speech to be downloaded before hearing any of it, and
    transport out could tell what was heard only to the half second.
    """

    @property
    def chunk_size(self) -> int:
        return int(self.sample_rate * TTS_CHUNK_S) * 2


class SharedTLSClient:
    """An OpenAI-compatible LLM service on the process's connection pool for its endpoint (and so its one TLS context).

    Pipecat's ``create_client`` builds an ``httpx`` client per service, and so
    an SSL context per call (~80 ms of CA-bundle loading on the event loop at
    every call's start, benchmarks/README.md) and new connections per call (a
    TCP and TLS handshake before the greeting). The pool is borrowed, never
    closed with the call (:func:`agent.core.http_client.pooled_client`).
    """

    def create_client(self, api_key=None, base_url=None, organization=None, project=None, default_headers=None, **kwargs):
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            api_key=api_key, base_url=base_url, organization=organization, project=project, default_headers=default_headers,
            http_client=pooled_client(str(base_url or OPENAI_URL)),
        )


class OpenAILLM(SharedTLSClient, OpenAILLMService):
    """Pipecat's OpenAI LLM service on the shared TLS context."""


class OllamaLLM(SharedTLSClient, OLLamaLLMService):
    """Pipecat's Ollama LLM service (OpenAI-compatible) on the shared TLS context."""


def _language(code: str | None) -> Any:
    if not code:
        return None
    from pipecat.transcriptions.language import Language

    try:
        return Language(code)
    except ValueError:
        return None


def build(stage: Literal["stt", "llm", "tts"], options: ServiceOptions, *, key: str | None, default_url: str,
          default_model: str | None, voice: str | None = None, language: str | None = None) -> Any:
    """A new Pipecat service for one call (services keep per-call state: never shared)."""
    cls = service_class(stage, options.type)
    vendor = VENDORS[stage][options.type]
    accepted = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {}
    if vendor.key_arg:
        kwargs[vendor.key_arg] = key or NO_KEY
    url = options.base_url or (default_url if options.type == "openai" else None)
    if url and vendor.url_arg:
        kwargs[vendor.url_arg] = url
    if options.region and "region" in accepted:
        kwargs["region"] = options.region
    fields: dict[str, Any] = {}
    if options.model or default_model:
        fields["model"] = options.model or default_model
    if stage == "tts" and (options.voice or voice):
        fields["voice"] = options.voice or voice
    if stage != "llm" and _language(options.language or language) is not None:
        fields["language"] = _language(options.language or language)
    settings_cls = getattr(cls, "Settings", None)
    if settings_cls is not None:
        known = set(getattr(settings_cls, "__dataclass_fields__", {}))
        kwargs["settings"] = settings_cls(**{k: v for k, v in fields.items() if k in known})
    if stage == "stt":
        if "audio_passthrough" in _all_params(cls):
            kwargs["audio_passthrough"] = False  # nothing after the STT wants the caller's audio
        if "push_empty_transcripts" in _all_params(cls):
            kwargs["push_empty_transcripts"] = True  # an empty transcript ends the wait for one
        if "sample_rate" in _all_params(cls):
            kwargs["sample_rate"] = mulaw.SAMPLE_RATE  # Twilio's 8 kHz, sent as it came (a WAV of it)
    if stage == "tts" and options.type == "openai":
        kwargs["sample_rate"] = OPENAI_TTS_RATE
    if options.type == "openai" and stage != "llm" and "http_client" in _all_params(cls):
        kwargs["http_client"] = pooled_client(url or OPENAI_URL)  # the endpoint's pool (see SharedTLSClient); not closed with the call
    return cls(**kwargs)


def pooled_url(stage: Literal["stt", "llm", "tts"], options: ServiceOptions, default_url: str) -> str | None:
    """The base URL a stage's service sends to through the process's pools (None: a vendor's own client or socket)."""
    if options.type == "openai":
        return options.base_url or default_url
    if stage == "llm" and options.type == "ollama":
        return options.base_url or inspect.signature(OLLamaLLM.__init__).parameters["base_url"].default
    return None


async def warm_up(endpoints: list[tuple[str, str | None]]) -> int:
    """Connect ahead of the call's first requests: per endpoint, a connection for each stage there (``(base URL, key)``
    each), fewer by those idle in its pool; how many requests that took.

    The request is ``GET {base_url}/models`` (OpenAI's "List models",
    https://platform.openai.com/docs/api-reference/models/list; the SDK's
    ``client.models.list()``, ``openai/resources/models.py``): free, and read
    only, unlike a transcription or a completion; a self-hosted server
    without it answers 404 over the same, now open, connection.
    """
    by_origin: dict[tuple[str, str, int], list[tuple[str, str | None]]] = {}
    for url, key in endpoints:
        by_origin.setdefault(origin(url), []).append((url, key))
    sent = await asyncio.gather(*(
        warm(pooled_client(stages[0][0]), stages[0][0].rstrip("/") + "/models", connections=len(stages),
             headers=next(({"Authorization": f"Bearer {key}"} for _, key in stages if key), None))
        for stages in by_origin.values()
    ))
    return sum(sent)


def _all_params(cls: type) -> set[str]:
    """Constructor parameters of ``cls`` and its bases (``**kwargs`` are passed up)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return names
