"""Which model an AI node talks through: its ``model:`` block (else the settings' default backend), resolved once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.media.backends.base import BackendOptions, ModelBackend

if TYPE_CHECKING:
    from agent.core.registry import Registry
    from agent.core.settings import Settings
    from agent.flow.models import AiAgentNode

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


def model_of(node: AiAgentNode, registry: Registry, settings: Settings) -> ChosenModel:
    """The node's backend and options (``flow validate`` has checked both; a bad one raises here)."""
    name = node.model.backend if node.model is not None else settings.model_backend
    backend = backend_named(name, registry, settings)
    options = backend.Options.model_validate(node.model.options if node.model is not None else {})
    return ChosenModel(backend, options)
