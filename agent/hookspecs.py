"""The plugin author's contract: every hook a ``voice_agent`` plugin may implement.

A plugin is a module (or object) with functions marked ``@hookimpl`` and
named after the hooks below, exposed through an entry point in the group
``voice_agent``::

    # pyproject.toml of your package
    [project.entry-points.voice_agent]
    my_sources = "my_package.plugin"

Registration hooks receive a ``register`` callback, so one plugin can
declare several intents, gathers or sources in one place::

    from agent import hookimpl

    @hookimpl
    def register_enrichment_sources(register):
        register("jira", JiraSource)
        register("grafana", GrafanaSource)

A plugin that fails to import, or a registration hook that raises, is
reported with the plugin's name (``voice-agent plugins`` shows it) and left
out; a lifecycle hook that raises or takes longer than 5 s is logged with the
plugin's name. Either way the other plugins, and the call, go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:
    from agent.core.call import Call, Outcome
    from agent.core.gathers import Gather
    from agent.core.intents import Intent

PROJECT = "voice_agent"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_intents(register: Callable[[Intent], None]) -> None:
    """Declare intents: things a caller may want.

    Call ``register(Intent(name=..., label=..., description=..., examples=[...]))``
    once per intent. ``name`` is what flows refer to (``intents: {name: branch}``);
    ``description`` is shown to the realtime model; ``examples`` (whole
    caller lines) and ``keywords`` teach the offline engine, which matches
    fuzzily, so a handful of varied phrasings beats many similar ones.
    A name registered twice keeps the first registration and reports the second.
    """


@hookspec
def register_gathers(register: Callable[[Gather], None]) -> None:
    """Declare gathers: fields the agent can collect from a caller.

    Call ``register(gather)`` with an instance of a :class:`agent.core.gathers.Gather`
    subclass. A gather names its field, asks for it, extracts it from a
    caller line (for the offline engine), and validates and normalises a value
    (for both engines: the realtime model's ``record_details`` tool goes through
    :meth:`~agent.core.gathers.Gather.normalise` too). Flows switch gathers on per
    node and may override ``question``, ``label`` and ``required``.
    """


@hookspec
def register_enrichment_sources(register: Callable[..., None]) -> None:
    """Declare enrichment sources: where the agent learns what is already going on.

    Call ``register(type_name, SourceClass)``. A flow's ``enrichment.sources``
    entry with ``type: type_name`` builds ``SourceClass(config, context)``
    where ``config`` is the entry's other keys validated by the class's
    optional ``Config`` pydantic model, and ``context`` a
    :class:`agent.core.sources.SourceContext` (settings, the flow file's folder).
    The instance's ``async fetch(call)`` returns a list of facts
    (:mod:`agent.core.facts`); the flow entry's ``name`` names it in logs and
    ``timeout_ms`` gives it a limit of its own. It runs concurrently with the other sources under
    the node's deadline: a late or failing source is dropped and logged, and
    the call goes on without its facts.
    """


@hookspec
def register_alert_platforms(register: Callable[..., None]) -> None:
    """Declare alert platforms: where ``create_alert`` nodes (and voicemails) open alerts.

    Call ``register(type_name, PlatformClass)``. A node's ``platform:``
    entry with ``type: type_name`` builds ``PlatformClass(config, context)``
    like a source (optional ``Config`` model, :class:`agent.core.sources.SourceContext`).
    The instance's ``async open_alert(alert, call)`` receives an
    :class:`agent.core.call.Alert` (summary, details with the briefing, gathered
    fields, a ``dedup_key`` shared by callers reporting the same problem) and
    returns an :class:`agent.core.call.AlertReceipt` (the platform's key and URL).
    A platform that fails or is slow is logged; the call goes on.
    """


@hookspec
def register_oncall_directories(register: Callable[..., None]) -> None:
    """Declare on-call directories: who ``route_call`` dials for schedule, policy and user targets.

    Call ``register(type_name, DirectoryClass)``. A ``route_call`` node's
    ``on_call:`` entry builds ``DirectoryClass(config, context)``; its
    ``async on_call(target, call)`` receives an
    :class:`agent.flow.models.RouteTarget` and returns the people to ring, in
    order, as :class:`agent.core.facts.OnCallShift` (name and number). Their
    numbers are dialled, never spoken to callers or shown to the model.
    """


@hookspec
def register_fallbacks(register: Callable[..., None]) -> None:
    """Declare fallback handlers: what happens when nothing else matches.

    Call ``register(name, handler)`` where ``handler(call, reason)`` returns a
    :class:`agent.core.fallback.FallbackDecision` (what to say, which branch to
    take). ``reason`` is one of ``no_intent``, ``no_input``, ``max_turns``,
    ``model_error``, ``caller_request``, ``frustrated``. ``branch`` is a node
    id among the node's own branch targets (None: the node's ``fallback``). A node picks its handler with
    ``fallback_plugin`` (default ``default``). A handler that raises is
    replaced by the node's ``fallback`` branch: the caller still reaches a human.
    """


@hookspec
def call_started(call: Call) -> Any:
    """A call entered the flow. May be a coroutine function.

    Use it to start timers, warm caches or tag the call. Exceptions are
    logged with the plugin's name and do not affect the call.
    """


@hookspec
def call_ended(call: Call, outcome: Outcome) -> Any:
    """A call left the flow; ``outcome`` is its one outcome record. May be a coroutine function.

    Use it to export the outcome (metrics, a ticket, a chat message). The
    outcome holds caller data: send it only where callers' data may go, and
    never write it to local disk. Exceptions are logged and ignored.
    """
