"""voice-agent-deploy-freeze: an example plugin for the on-call voice agent."""

__version__ = "0.1.0"
