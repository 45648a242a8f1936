"""Dialogue engines: who decides what the agent says. All act through :class:`agent.tools.ToolBox`."""
