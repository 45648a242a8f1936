"""oncall-voice-agent: an AI voice agent for on-call hotlines, built on Pipecat pipelines."""

from agent.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__"]
