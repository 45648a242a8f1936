"""Where a realtime session connects and how it authenticates, in each dialect, against the ``openai`` SDK's own URL building.

The SDK is the contract where it has one: ``AsyncAzureOpenAI._configure_realtime``
(openai/lib/azure.py) for Azure's preview surface, ``AsyncRealtimeConnectionManager._prepare_url``
(openai/resources/realtime/realtime.py) for OpenAI and any base URL, including Azure's GA v1
surface (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/realtime-audio-websockets:
``wss://<resource>.openai.azure.com/openai/v1/realtime?model=<deployment>``, key in ``api-key``).
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

from openai import AsyncAzureOpenAI, AsyncOpenAI

from agent.conversation.realtime_client import RealtimeEndpoint

RESOURCE = "https://acme-eu.openai.azure.com"


def test_openai_dialect_matches_the_sdk_url_and_sends_a_bearer_key() -> None:
    sdk = AsyncOpenAI(api_key="sk-test", base_url="https://api.openai.com/v1").realtime.connect(model="gpt-realtime")
    ours = RealtimeEndpoint.openai("wss://api.openai.com/v1", "gpt-realtime", "sk-test")
    assert ours.url == f"{sdk._prepare_url()}?model=gpt-realtime"
    assert ours.headers == {"Authorization": "Bearer sk-test"}
    assert RealtimeEndpoint.openai("ws://llm.internal:8000/v1", "local-rt", "").headers == {}, "a keyless server gets no empty Bearer"


def test_azure_ga_endpoint_is_the_v1_surface_with_the_deployment_as_model_and_an_api_key_header() -> None:
    sdk_base = AsyncOpenAI(api_key="k", base_url=f"{RESOURCE}/openai/v1").realtime.connect(model="rt-eu")._prepare_url()
    ours = RealtimeEndpoint.azure(RESOURCE + "/", "rt-eu", "azure-key")
    assert ours.url.split("?")[0] == str(sdk_base) == "wss://acme-eu.openai.azure.com/openai/v1/realtime"
    assert parse_qs(urlsplit(ours.url).query) == {"model": ["rt-eu"]}, "no api-version on the GA surface"
    assert ours.headers == {"api-key": "azure-key"}


def test_azure_preview_endpoint_is_built_as_the_sdk_builds_it() -> None:
    client = AsyncAzureOpenAI(azure_endpoint=RESOURCE, api_key="azure-key", api_version="2025-04-01-preview")
    url, headers = asyncio.run(client._configure_realtime("rt-eu", {}))
    ours = RealtimeEndpoint.azure(RESOURCE, "rt-eu", "azure-key", "2025-04-01-preview")
    assert ours.url == str(url) == "wss://acme-eu.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=rt-eu"
    assert ours.headers == headers == {"api-key": "azure-key"}
