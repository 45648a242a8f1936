"""What one caller audio frame costs on its way through a live call's processors (microseconds, one process).

    python -m benchmarks.lane [--frames 20000] [--repeat 5]

Builds the processors of ``pipelines/twilio_realtime.py`` after the input
transport (VAD with Silero, the model with its socket replaced by a no-op,
tool handlers, transport out writing nowhere, the side processors) in a real
``PipelineWorker``, and pushes ``CallerAudioFrame``s from a first processor
the way Pipecat's input transport does (``push_frame``). Prints the best of
``--repeat`` timings: less noisy than the load benchmark on a shared machine,
and it isolates what the pipeline's shape costs per frame (50 a second per call:
1 us per frame is 0.003 CPU s per call-minute).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from pathlib import Path

from pipecat.frames.frames import StartFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.workers.runner import WorkerRunner

from agent.conversation.realtime_client import RealtimeConfig, RealtimeEndpoint
from agent.conversation.session import NodeSession
from agent.conversation.tools import ToolBox
from agent.core.call import Call
from agent.core.registry import load_registry
from agent.flow.loader import load_flow
from agent.flow.models import AiAgentNode
from agent.media.frames import CallerAudioFrame
from agent.media.processors.barge_in import BargeInDetector
from agent.media.processors.keypad import KeypadCollector
from agent.media.processors.realtime import OpenAIRealtimeProcessor
from agent.media.processors.supervisor import CallSupervisor
from agent.media.processors.tool_handlers import ToolHandlers
from agent.media.processors.transcript_keeper import TranscriptKeeper
from agent.media.processors.twilio_output import TwilioMediaOutput
from agent.media.processors.twilio_sender import TwilioMediaSender
from agent.media.vad import SileroModel

ROOT = Path(__file__).resolve().parent.parent


class _NoSocket:
    async def send(self, event: dict) -> None:
        pass

    async def append_audio(self, payload: str) -> None:
        pass

    async def close(self) -> None:
        pass


class _Source(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()

    async def process_frame(self, frame, direction) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.started.set()


async def measure(frames: int, repeat: int) -> float:
    registry = load_registry()
    flow = load_flow(ROOT / "examples" / "flows" / "hotline.yaml", registry)
    node_id, node = next((k, v) for k, v in flow.nodes.items() if isinstance(v, AiAgentNode))
    ctx = NodeSession.build(node_id, node, Call(caller_number="+4915112345678"), registry, region="DE", timezone=flow.timezone)
    config = RealtimeConfig(endpoint=RealtimeEndpoint.openai("ws://127.0.0.1:9/v1/realtime", "m", "k"), model="m", instructions="", tools=[], greeting="Hi",
                            connect_timeout_s=0.01)

    async def nothing(*_args) -> None:
        pass

    model = OpenAIRealtimeProcessor(config, on_decision=nothing, on_failure=nothing)
    source = _Source()
    processors = [
        source, BargeInDetector(SileroModel.shared().detector()), model, ToolHandlers(ToolBox(ctx)),
        TwilioMediaOutput(TwilioMediaSender(nothing, "MZ1")), KeypadCollector(),
        CallSupervisor(reprompt_after_s=1000, max_duration_s=10_000), TranscriptKeeper(ctx.call),
    ]
    worker = PipelineWorker(
        Pipeline(processors), params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000, enable_metrics=False),
        enable_rtvi=False, enable_turn_tracking=False, idle_timeout_secs=None, check_dangling_tasks=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    await source.started.wait()
    await asyncio.sleep(0.1)  # the model's connect attempt has failed by now: use the no-op socket
    model.connection.conn, model.connection.failed = _NoSocket(), False
    audio = b"\xff" * 160
    payload = base64.b64encode(audio).decode()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(frames):
            await source.push_frame(CallerAudioFrame(payload=payload, mulaw=audio))
        best = min(best, (time.perf_counter() - started) / frames)
    await worker.cancel()
    await running
    return best * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=20000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    us = asyncio.run(measure(args.frames, args.repeat))
    print(f"{us:.2f} us per caller audio frame (best of {args.repeat} x {args.frames}); {us * 50 * 60 / 1e6:.3f} CPU s per call-minute")


if __name__ == "__main__":
    main()
