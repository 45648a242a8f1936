"""``relay``: the least a server can do — Twilio mu-law straight to the model and back.

    python -m benchmarks.relay --port 8081 --model-url ws://127.0.0.1:PORT/v1/realtime

FastAPI + uvicorn (as the real server), one WebSocket per call to the model:
``session.update`` (``audio/pcmu`` both ways, server VAD 500 ms), one
``response.create`` for the greeting, ``input_audio_buffer.append`` per Twilio
``media`` (the base64 payload is passed on untouched), each
``response.output_audio.delta`` becomes one Twilio ``media`` plus a ``mark``,
``speech_started`` becomes a ``clear``. No pipeline, no processing: the floor
the other configurations are compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

from benchmarks.common import MEDIA_PATH


def session(silence_ms: int) -> dict:
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": "You answer an on-call hotline.",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "turn_detection": {
                        "type": "server_vad",
                        "silence_duration_ms": silence_ms,
                    },
                },
                "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
            },
        },
    }


def create_app(model_url: str, silence_ms: int = 500) -> FastAPI:
    app = FastAPI()

    @app.websocket(MEDIA_PATH)
    async def media(ws: WebSocket) -> None:
        await ws.accept()
        stream_sid = ""
        while not stream_sid:
            msg = json.loads(await ws.receive_text())
            if msg.get("event") == "start":
                stream_sid = msg["start"]["streamSid"]
        async with connect(
            f"{model_url}?model=gpt-realtime",
            additional_headers={"Authorization": "Bearer sk-test"},
            compression=None,
            max_size=16 * 2**20,
        ) as model:
            await model.send(json.dumps(session(silence_ms)))
            await model.send(json.dumps({"type": "response.create"}))

            async def from_model() -> None:
                marks = 0
                async for raw in model:
                    event = json.loads(raw)
                    kind = event.get("type")
                    if kind == "response.output_audio.delta":
                        marks += 1
                        await ws.send_text(
                            json.dumps(
                                {
                                    "event": "media",
                                    "streamSid": stream_sid,
                                    "media": {"payload": event["delta"]},
                                }
                            )
                        )
                        await ws.send_text(
                            json.dumps(
                                {
                                    "event": "mark",
                                    "streamSid": stream_sid,
                                    "mark": {"name": f"m{marks}"},
                                }
                            )
                        )
                    elif kind == "input_audio_buffer.speech_started":
                        await ws.send_text(
                            json.dumps({"event": "clear", "streamSid": stream_sid})
                        )

            reader = asyncio.create_task(from_model())
            try:
                while True:
                    msg = json.loads(await ws.receive_text())
                    event = msg.get("event")
                    if event == "media":
                        await model.send(
                            '{"type":"input_audio_buffer.append","audio":"'
                            + msg["media"]["payload"]
                            + '"}'
                        )
                    elif event == "stop":
                        break
            except WebSocketDisconnect:
                pass
            finally:
                reader.cancel()

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--model-url", required=True)
    p.add_argument("--silence-ms", type=int, default=500)
    a = p.parse_args()
    uvicorn.run(
        create_app(a.model_url, a.silence_ms),
        host="127.0.0.1",
        port=a.port,
        log_level="warning",
    )
