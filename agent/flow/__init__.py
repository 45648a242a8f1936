"""Call flows: YAML graphs of nodes joined by named branches."""

from agent.flow.models import Flow, Node

__all__ = ["Flow", "Node"]
