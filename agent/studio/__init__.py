"""`voice-agent studio`: one local page to see, edit, validate and rehearse a call flow.

The page is a thin client: the flow's checks (:mod:`agent.flow.loader`), its
round-trip YAML (:mod:`agent.studio.document`) and the simulator
(:mod:`agent.simulation.simulator`) all run here, in the same code the command
line uses, so what the page shows is what ``flow validate`` and ``simulate``
print.
"""
