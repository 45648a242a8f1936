"""Which model an AI node talks through: its ``model:`` block (else the settings' default backend), resolved once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.media.backends.base import BackendOptions, ModelBackend

if TYPE_CHECKING:
    from agent.core.registry import Registry
    from agent.core.settings import Settings
    from agent.flow.models import AiAgentNode, Flow

MAX_CACHED = 32  # backends kept (one per registry, settings and name: a server has a handful)


@dataclass(frozen=True)
class ChosenModel:
    """A node's backend (shared by every call of the process) and its validated options."""

    backend: ModelBackend
    options: BackendOptions


_built: dict[tuple[str, int, int], tuple[Registry, Settings, ModelBackend]] = {}


def backend_named(name: str, registry: Registry, settings: Settings) -> ModelBackend:
    """The one instance of backend ``name`` for these settings; ``KeyError`` naming the installed ones if unknown."""
    key = (name, id(registry), id(settings))
    entry = _built.get(key)
    if entry is not None and entry[0] is registry and entry[1] is settings:
        return entry[2]
    cls = registry.backends.get(name)
    if cls is None:
        raise KeyError(f"unknown model backend {name!r}; installed: {', '.join(sorted(registry.backends)) or 'none'}")
    backend = cls(settings)
    if len(_built) >= MAX_CACHED:
        _built.pop(next(iter(_built)))
    _built[key] = (registry, settings, backend)
    return backend


def backend_name(node: AiAgentNode, settings: Settings) -> str:
    """The node's ``model: backend``, else the settings' default backend."""
    return node.model.backend if node.model is not None else settings.model_backend


def model_of(node: AiAgentNode, registry: Registry, settings: Settings) -> ChosenModel:
    """The node's backend and options (``flow validate`` has checked both; a bad one raises here)."""
    backend = backend_named(backend_name(node, settings), registry, settings)
    options = backend.Options.model_validate(node.model.options if node.model is not None else {})
    return ChosenModel(backend, options)


def live_model_wanted(flow: Flow, registry: Registry, settings: Settings) -> bool:
    """Whether live calls talk to the AI nodes' models (``VOICE_AGENT_ENGINE``), else the deterministic mode.

    ``openai``/``deterministic`` decide outright; ``auto`` picks the models when
    the flow has AI nodes and every node's backend is :meth:`ModelBackend.ready`
    (keys set, or servers of your own): an Azure-only or fully self-hosted
    deployment needs no OpenAI key to be answered by its model.
    """
    if settings.engine != "auto":
        return settings.engine == "openai"
    nodes = list(flow.ai_nodes().values())
    if not nodes:
        return False
    try:
        return all((chosen := model_of(node, registry, settings)).backend.ready(chosen.options) for node in nodes)
    except (KeyError, ValueError):  # an unknown backend or bad options: flow validate says which
        return False


def backends_in_use(flow: Flow, registry: Registry, settings: Settings) -> list[str]:
    """The backend names of the flow's AI nodes, in node order, each once (for the server's start-up line)."""
    return list(dict.fromkeys(backend_name(node, settings) for node in flow.ai_nodes().values()))
