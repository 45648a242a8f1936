"""The fake of OpenAI's HTTP API answers as the real one does, read through the openai SDK's own types.

The SDK parses every streamed chunk into ``ChatCompletionChunk``, a
transcription into ``Transcription``, raises its own error classes on an
error object: what a client (Pipecat's services among them) gets from the
fake is what it gets from the real API (agent/testing/fake_openai_http.py
cites the endpoints' references).
"""

from __future__ import annotations

import io
import json
import wave

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from agent.testing.fake_openai_http import (
    SPEECH_RATE,
    Call,
    ChatScript,
    FakeOpenAIHttp,
    When,
)

TOOLS = [{"type": "function", "function": {
    "name": "record_details", "description": "Save details.",
    "parameters": {"type": "object", "properties": {"caller_name": {"type": "string"}}, "required": []},
}}]


def client(fake: FakeOpenAIHttp) -> AsyncOpenAI:
    return AsyncOpenAI(api_key="sk-test", base_url=fake.base_url, max_retries=0)


def wav(ms: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8 * ms)
    return out.getvalue()


@pytest.mark.anyio
async def test_streamed_text_and_tool_calls_reassemble_as_the_sdk_reads_them() -> None:
    script = ChatScript([When(user="jane", say="Thanks Jane.", tool=Call("record_details", {"caller_name": "Jane Doe"}))])
    async with FakeOpenAIHttp(script) as fake:
        async with client(fake) as sdk:
            stream = await sdk.chat.completions.create(
                model="gpt-4.1-mini", messages=[{"role": "user", "content": "I am Jane"}], tools=TOOLS, stream=True,
            )
            text, name, arguments, finish, ids = "", "", "", None, set()
            async for chunk in stream:
                assert chunk.object == "chat.completion.chunk" and chunk.model == "gpt-4.1-mini"
                delta = chunk.choices[0].delta
                text += delta.content or ""
                for call in delta.tool_calls or []:
                    assert call.index == 0
                    ids.update([call.id] if call.id else [])
                    name += (call.function.name or "") if call.function else ""
                    arguments += (call.function.arguments or "") if call.function else ""
                finish = chunk.choices[0].finish_reason or finish
    assert (text, name, json.loads(arguments), finish, len(ids)) == ("Thanks Jane.", "record_details", {"caller_name": "Jane Doe"}, "tool_calls", 1)
    [request] = fake.requests
    assert request.path == "/v1/chat/completions" and request.headers["Authorization"] == "Bearer sk-test"
    assert request.body["tools"] == TOOLS


@pytest.mark.anyio
async def test_a_transcription_is_the_next_line_the_caller_said() -> None:
    async with FakeOpenAIHttp() as fake:
        fake.caller_said("my printer is on fire")
        async with client(fake) as sdk:
            result = await sdk.audio.transcriptions.create(file=("audio.wav", wav(500), "audio/wav"), model="whisper-1", language="en")
            empty = await sdk.audio.transcriptions.create(file=("audio.wav", wav(500), "audio/wav"), model="whisper-1")
    assert (result.text, empty.text) == ("my printer is on fire", "")
    sent = fake.sent("/v1/audio/transcriptions")[0].body
    assert sent["model"] == "whisper-1" and sent["language"] == "en" and sent["file"] == wav(500)


@pytest.mark.anyio
async def test_speech_is_raw_24khz_pcm_as_long_as_its_words() -> None:
    async with FakeOpenAIHttp(ms_per_word=200) as fake, client(fake) as sdk:
        async with sdk.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="marin", input="one two three", response_format="pcm",
        ) as response:
            audio = b"".join([chunk async for chunk in response.iter_bytes()])
    assert len(audio) == SPEECH_RATE * 2 * 600 // 1000
    assert fake.sent("/v1/audio/speech")[0].body == {"model": "gpt-4o-mini-tts", "voice": "marin", "input": "one two three", "response_format": "pcm"}


@pytest.mark.anyio
async def test_errors_are_openai_error_objects() -> None:
    async with FakeOpenAIHttp() as fake, client(fake) as sdk, httpx.AsyncClient() as keyless:
        fake.fail("/v1/chat/completions", 500)
        with pytest.raises(openai.InternalServerError) as failed:
            await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
        assert failed.value.status_code == 500 and failed.value.body["type"] == "server_error"
        with pytest.raises(openai.BadRequestError, match="not answered"):  # as the real API refuses a tool call left unanswered
            await sdk.chat.completions.create(model="m", stream=True, messages=[
                {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "user", "content": "hello?"},
            ])
        refused = await keyless.post(f"{fake.base_url}/chat/completions", json={"model": "m", "messages": [], "stream": True})
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "invalid_request_error", "no key, no answer"
