"""The built-in model backends, registered like any plugin's (``agent.core.registry.BUILTIN_PLUGINS``).

Each backend's module is imported on its own: one whose module (or the
Pipecat extra it needs) fails to import is reported by name under
``builtin_backends`` in ``voice-agent plugins``, and the others still register.
"""

from __future__ import annotations

import importlib

from agent.hookspecs import hookimpl
from agent.plugin_api import RegisterModelBackend

#: (name, "module:Class"); add a built-in backend with one line here.
BACKENDS: tuple[tuple[str, str], ...] = (
    ("openai_realtime", "agent.media.backends.openai_realtime:OpenAIRealtimeBackend"),
    ("cascade", "agent.media.backends.cascade:CascadeBackend"),
    ("gemini_live", "agent.media.backends.gemini_live:GeminiLiveBackend"),
)


@hookimpl
def register_model_backends(register: RegisterModelBackend) -> None:
    failed: list[str] = []
    for name, target in BACKENDS:
        module, _, attribute = target.partition(":")
        try:
            backend = getattr(importlib.import_module(module), attribute)
        except Exception as exc:  # noqa: BLE001 - a missing extra or a broken backend leaves out that one only
            failed.append(f"{name} ({exc!r})")
            continue
        register(name, backend)
    if failed:
        raise ImportError("model backends left out: " + "; ".join(failed))
