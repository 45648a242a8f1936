"""The AI node really runs as a Pipecat pipeline: frames in, frames out, clean shutdown."""

import asyncio

from agent.conversation.session import NodeSession
from agent.core.call import Call
from agent.conversation.engines.deterministic import DeterministicEngine
from agent.flow.loader import load_flow
from agent.core.registry import load_registry
from pipelines.text_call import TextCall
from tests.conftest import HOTLINE


def test_text_call_greets_answers_and_shuts_down():
    registry = load_registry()
    node = load_flow(HOTLINE, registry).nodes["agent"]
    call = Call(caller_number="+4915112345678")
    engine = DeterministicEngine(NodeSession.build("agent", node, call, registry))

    async def conversation():
        async with TextCall(engine, call) as conv:
            greeting = conv.greeting
            first = await conv.say("Please put me through to a human")
            task = conv._task
        return greeting, first, task

    greeting, first, task = asyncio.run(conversation())
    assert greeting == ["Hello, I'm ACME's on-call assistant. What's going on?"]
    assert first == ["I'm connecting you now."]
    assert engine.done and engine.ctx.decision.intent == "talk_to_human"
    assert task.done() and not task.cancelled()
    assert [(t.speaker, t.text) for t in call.transcript] == [
        ("agent", greeting[0]),
        ("caller", "Please put me through to a human"),
        ("agent", "I'm connecting you now."),
    ]


def test_silence_frames_reach_the_engine():
    registry = load_registry()
    node = load_flow(HOTLINE, registry).nodes["agent"]
    call = Call()
    engine = DeterministicEngine(NodeSession.build("agent", node, call, registry))

    async def conversation():
        async with TextCall(engine, call) as conv:
            return await conv.say("")

    assert asyncio.run(conversation())[0] == "Sorry, I didn't catch that."
    assert call.transcript[1].speaker == "caller" and call.transcript[1].text == ""
