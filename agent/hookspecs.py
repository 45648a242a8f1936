"""The plugin author's contract: every hook a ``voice_agent`` plugin may implement.

Import what a plugin needs from :mod:`agent.plugin_api` (also re-exported by
``agent``). A plugin is a module (or object) with functions marked
``@hookimpl`` and named after the hooks below, exposed through an entry point
in the group ``voice_agent``::

    # pyproject.toml of your package
    [project.entry-points.voice_agent]
    my_sources = "my_package.plugin"

Registration hooks receive a ``register`` callback, so one plugin can
declare several intents, gathers or sources in one place::

    from agent.plugin_api import hookimpl

    @hookimpl
    def register_enrichment_sources(register):
        register("jira", JiraSource)
        register("grafana", GrafanaSource)

An implementation may take fewer arguments than the hook declares
(``def call_ended(outcome)``), never others. The built-in plugins register
first, then installed plugins in the order of their entry-point names; a name
registered twice keeps the first registration and reports the second.
``@hookimpl(tryfirst=True)`` runs an implementation before all others (so its
registrations win), ``@hookimpl(trylast=True)`` after all others.
``hookwrapper=True``/``wrapper=True`` implementations are refused and
reported: every implementation runs on its own, so a failure is charged to
one plugin only. A misspelt hook name is reported too.

A plugin that fails to import, or a registration hook that raises, is
reported with the plugin's name (``voice-agent plugins`` shows it) and left
out; a lifecycle hook that raises or takes longer than 5 s is logged with the
plugin's name. Either way the other plugins, and the call, go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from agent.core.call import Call, Outcome
    from agent.plugin_api import (
        RegisterAlertPlatform,
        RegisterFallback,
        RegisterGather,
        RegisterIntent,
        RegisterModelBackend,
        RegisterOnCallDirectory,
        RegisterSource,
    )

PROJECT = "voice_agent"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_intents(register: RegisterIntent) -> None:
    """Declare intents: things a caller may want.

    Call ``register(Intent(name=..., label=..., description=..., examples=[...]))``
    once per intent (:class:`agent.plugin_api.Intent`). ``name`` (``a-z0-9_``)
    is what flows refer to (``intents: {name: branch}``); ``label`` appears in
    alerts and the engineer's briefing; ``description`` is shown to the
    realtime model; ``examples`` (whole caller lines) and ``keywords`` teach
    the deterministic engine, which matches fuzzily, so a handful of varied phrasings
    beats many similar ones. Registering anything but an ``Intent`` is an error
    charged to the plugin.
    """


@hookspec
def register_gathers(register: RegisterGather) -> None:
    """Declare gathers: fields the agent can collect from a caller.

    Call ``register(gather)`` with an instance of a :class:`agent.plugin_api.Gather`
    subclass. A gather names its field, asks for it, extracts it from a
    caller line (``extract``, for the deterministic engine), and validates and
    normalises a value (``normalise``, for both engines: the realtime model's
    ``record_details`` tool goes through it too), raising
    :class:`agent.plugin_api.InvalidValue` with what is wanted. Flows switch
    gathers on per node and may override ``question``, ``label``, ``required``
    and ``confirm``.
    """


@hookspec
def register_enrichment_sources(register: RegisterSource) -> None:
    """Declare enrichment sources: where the agent learns what is already going on.

    Call ``register(type_name, SourceClass)``. A flow's ``enrichment.sources``
    entry with ``type: type_name`` builds ``SourceClass(config, context)``:

    - ``config`` is the entry's other keys, validated by the class's optional
      pydantic ``Config`` model (else a plain ``dict``);
    - ``context`` is a :class:`agent.plugin_api.PluginContext`: ``settings``,
      ``base_dir`` (the flow file's folder), ``plugin_settings(YourSettings)``
      (your :class:`agent.plugin_api.PluginSettings`), ``http_client()`` and
      ``cache``.

    The constructor runs when a flow is checked and again when a call reaches
    the node: keep it cheap, without network calls, and raise ``ValueError``
    or ``OSError`` saying what to fix. The instance follows
    :class:`agent.plugin_api.EnrichmentSource`: ``async fetch(call)`` returns a
    list of facts (:mod:`agent.core.facts`). The flow entry's ``name`` names
    it in logs and ``timeout_ms`` gives it a limit of its own. It runs
    concurrently with the other sources under the node's deadline: a late or
    failing source is dropped and logged, and the call goes on without its facts.
    """


@hookspec
def register_alert_platforms(register: RegisterAlertPlatform) -> None:
    """Declare alert platforms: where ``create_alert`` nodes (and voicemails) open alerts.

    Call ``register(type_name, PlatformClass)``. A node's ``platform:``
    entry with ``type: type_name`` builds ``PlatformClass(config, context)``
    like a source (optional ``Config`` model, a :class:`agent.plugin_api.PluginContext`).
    The instance follows :class:`agent.plugin_api.AlertPlatform`:

    - ``async open_alert(alert, call)`` receives an :class:`agent.plugin_api.Alert`
      (summary, details with the briefing, gathered fields, links, the
      transcript when the flow sends it, and a ``dedup_key`` shared by
      callers reporting the same problem) and returns an
      :class:`agent.plugin_api.AlertReceipt` (the platform's key and URL);
    - ``async add_note(alert, note)`` (optional) adds what was learnt after
      the call, e.g. the recording's transcription
      (:class:`agent.plugin_api.AlertNote`: ``text`` and ``links``), to the
      alert it opened (``alert.receipt``). Platforms without it are skipped.

    A platform that fails or is slow (the entry's ``timeout_ms``, default
    10 s) is logged and noted in the outcome; the call goes on.
    """


@hookspec
def register_oncall_directories(register: RegisterOnCallDirectory) -> None:
    """Declare on-call directories: who ``route_call`` dials for schedule, policy and user targets.

    Call ``register(type_name, DirectoryClass)``. A ``route_call`` node's
    ``on_call:`` entry builds ``DirectoryClass(config, context)`` like a
    source. The instance follows :class:`agent.plugin_api.OnCallDirectory`:
    ``async on_call(target, call)`` receives a :class:`agent.plugin_api.RouteTarget`
    (``type``: ``escalation_policy``, ``on_call_schedule`` or ``user``; ``id``)
    and returns the people to ring, in order, as
    :class:`agent.plugin_api.OnCallShift` (name and E.164 number). Their
    numbers are dialled, never spoken to callers or shown to the model. A
    look-up that fails or is late skips that target; the others are still dialled.
    """


@hookspec
def register_fallbacks(register: RegisterFallback) -> None:
    """Declare fallback handlers: what happens when nothing else matches.

    Call ``register(name, handler)`` where ``handler(call, reason)`` returns a
    :class:`agent.plugin_api.FallbackDecision` (what to say, which branch to
    take). ``reason`` is a :data:`agent.plugin_api.FallbackReason`:
    ``no_intent``, ``no_input``, ``max_turns``, ``max_duration``,
    ``model_error``, ``caller_request`` or ``frustrated``. ``branch`` is a
    node id among the node's own branch targets (None: the node's
    ``fallback``). ``agent.plugin_api.lines_of(call)`` gives the call's
    lines in its language. A node picks its handler with ``fallback_plugin``
    (default ``default``). A handler that raises is replaced by the node's
    ``fallback`` branch: the caller still reaches a human.
    """


@hookspec
def register_model_backends(register: RegisterModelBackend) -> None:
    """Declare model backends: what an AI node talks to the caller through on a live call.

    Call ``register(name, BackendClass)``. An AI node picks one with
    ``model: {backend: name, ...}`` (its other keys are the backend's options;
    without ``model:`` the node uses ``VOICE_AGENT_MODEL_BACKEND``, default
    ``openai_realtime``). ``BackendClass`` subclasses
    :class:`agent.media.backends.base.ModelBackend` (it is built on Pipecat, so
    it is imported from there, not from :mod:`agent.plugin_api`):

    - ``name``; ``Options``, a pydantic model of the ``model:`` keys
      (subclass :class:`~agent.media.backends.base.BackendOptions`: unknown
      keys are refused); ``flow validate`` checks them with file:line;
    - ``limits``: ``{rule: what the caller loses}`` for rules of the call it
      cannot keep (``flow validate`` warns about each);
    - ``settings_classes``: its :class:`agent.plugin_api.PluginSettings`
      (keys, base URLs; ``voice-agent plugins`` lists their variables);
    - ``BackendClass(settings)`` is built once per process; its
      ``problems(options, node)`` says what stops a node from running on it
      (``flow validate`` reports them), ``connect_early(options)`` may start
      connecting while Twilio opens the media stream, and
      ``processor(request)`` returns the call's
      :class:`~agent.media.backends.base.ModelProcessor`, a Pipecat frame
      processor that takes and sends the frames listed in
      :mod:`agent.media.backends.base`.

    Registering anything but a class is an error charged to the plugin.
    """


@hookspec
def call_started(call: Call) -> Any:
    """A call entered the flow. May be a coroutine function.

    Use it to start timers, warm caches or tag the call. A plain function
    runs in a worker thread; the call waits for either kind at most 5 s. Exceptions
    are logged with the plugin's name and do not affect the call.
    """


@hookspec
def call_ended(call: Call, outcome: Outcome) -> Any:
    """A call left the flow; ``outcome`` is its one outcome record. May be a coroutine function.

    Use it to export the outcome (metrics, a ticket, a chat message). The call
    waits for these hooks (at most 5 s each), so hand slow exports to a queue
    of your own. The outcome holds caller data: send it only where callers'
    data may go, and never write it to local disk. Exceptions are logged and ignored.
    """
