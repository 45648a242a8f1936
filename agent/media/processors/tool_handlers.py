"""Tool handlers: the model's tool calls run through the call's :class:`ToolBox`, and the call's decisions.

``FunctionCallInProgressFrame`` (from the model) in; the answer goes back
upstream as a ``FunctionCallResultFrame`` (and a copy downstream, for whoever
keeps the call's state). When a tool chose a branch (``route_call``,
``end_call``), a :class:`CallDecidedFrame` goes upstream before the result.
A :class:`HandOverFrame` (silence, time limit; from the supervisor,
upstream) asks the node's fallback what to do and becomes a
:class:`CallDecidedFrame` with ``now=True``, once.
"""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import Frame, FunctionCallInProgressFrame, FunctionCallResultFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.conversation.tools import ToolBox
from agent.core.events import call_event
from agent.media.frames import BotAudioFrame, CallDecidedFrame, HandOverFrame


def tool_outcome(result: dict[str, Any]) -> dict[str, Any]:
    """What a tool's answer says, for the event log: refused or not, and the *names* of the fields it saved."""
    names = {key: ",".join(sorted(result[key])) for key in ("saved", "invalid") if isinstance(result.get(key), dict) and result[key]}
    return {"refused": "error" in result, **names}


class ToolHandlers(FrameProcessor):
    def __init__(self, tools: ToolBox, **kwargs) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._tools = tools
        self._call_id = tools.ctx.call.call_id  # the call event log's key

    async def queue_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM, callback=None) -> None:
        if frame.__class__ is BotAudioFrame and callback is None and self.next is not None:  # the audio lane: passed on
            await self.next.queue_frame(frame, direction)
            return
        await super().queue_frame(frame, direction, callback)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, FunctionCallInProgressFrame):
            await self.push_frame(frame, direction)
            await self._run(frame)
            return
        if isinstance(frame, HandOverFrame):
            await self.push_frame(frame, direction)
            if self._tools.ctx.decision is None:
                decision = self._tools.ctx.fallback(frame.reason)  # type: ignore[arg-type]
                await self.push_frame(CallDecidedFrame(decision=decision, now=True), FrameDirection.UPSTREAM)
            return
        await self.push_frame(frame, direction)

    async def _run(self, frame: FunctionCallInProgressFrame) -> None:
        name = str(frame.function_name)
        decided = self._tools.ctx.decision
        result = await self._tools.call(name, frame.arguments or "{}")
        call_event(self._call_id, "tool", name=name[:40], **tool_outcome(result))
        if decided is None and self._tools.ctx.decision is not None:
            await self.push_frame(CallDecidedFrame(decision=self._tools.ctx.decision), FrameDirection.UPSTREAM)
        for direction in (FrameDirection.UPSTREAM, FrameDirection.DOWNSTREAM):
            await self.push_frame(
                FunctionCallResultFrame(function_name=name, tool_call_id=frame.tool_call_id, arguments=frame.arguments, result=result),
                direction,
            )
