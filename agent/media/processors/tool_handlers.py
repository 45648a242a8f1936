"""Tool handlers: the model's tool calls run through the call's :class:`ToolBox`, and the call's decisions.

``FunctionCallInProgressFrame`` (from the model) in; the answer goes back
upstream as a ``FunctionCallResultFrame`` (and a copy downstream, for whoever
keeps the call's state). When a tool chose a branch (``route_call``,
``end_call``), a :class:`CallDecidedFrame` goes upstream before the result.
A :class:`SilenceFrame` (the supervisor, upstream, at each re-prompt time)
counts one no-input against the question open (``ToolBox.note_no_input``:
per field, like the deterministic engine, never reset by the caller's other
words); within the node's ``max_no_input`` it goes on to the model, which
re-prompts, and past it the call takes the fallback branch with reason
``no_input``. That, and a :class:`HandOverFrame` (the supervisor: silence in
all, time limit), ask the node's fallback what to do and become a
:class:`CallDecidedFrame` with ``now=True``, once: upstream for the model to
say its line, and downstream for the supervisor (no more re-prompts).
"""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import Frame, FunctionCallInProgressFrame, FunctionCallResultFrame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.conversation.tools import ToolBox
from agent.core.events import call_event
from agent.media.frames import BotAudioFrame, CallDecidedFrame, HandOverFrame, SilenceFrame


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
        if isinstance(frame, SilenceFrame):
            await self._silence(frame, direction)
            return
        if isinstance(frame, HandOverFrame):
            await self.push_frame(frame, direction)
            await self._fall_back(frame.reason)
            return
        if isinstance(frame, TranscriptionFrame):
            self._tools.caller_spoke = True  # the greeting's question is answered: silences count against the next
        await self.push_frame(frame, direction)

    async def _silence(self, frame: SilenceFrame, direction: FrameDirection) -> None:
        """One silence while a question is open: re-prompt, or the fallback once the question is past ``max_no_input``."""
        if self._tools.ctx.decision is not None:  # handed on already: not counted (nor re-prompted by the model)
            await self.push_frame(frame, direction)
            return
        question = self._tools.open_question()
        if self._tools.note_no_input():
            call_event(self._call_id, "hand_over", reason="no_input", question=question)
            await self._fall_back("no_input")
            return
        call_event(self._call_id, "reprompt", question=question, no_input=self._tools.counters.count(question, "no_input"))
        await self.push_frame(frame, direction)

    async def _fall_back(self, reason: str) -> None:
        """The node's fallback decides, once; the model says its line at once and the supervisor stops its timers."""
        if self._tools.ctx.decision is not None:
            return
        decision = self._tools.ctx.fallback(reason)  # type: ignore[arg-type]
        for direction in (FrameDirection.UPSTREAM, FrameDirection.DOWNSTREAM):
            await self.push_frame(CallDecidedFrame(decision=decision, now=True), direction)

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
