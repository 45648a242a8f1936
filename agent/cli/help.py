"""Help pages that show flags as flags.

Typer's help prints every option's type after it, flags included (``--json <bool>``,
``--help <bool>``), as if they took a value. Commands and groups built with these
classes show a flag bare (``--json``); options that take a value keep their type.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup


class _FlagsAreBare:
    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""  # the help's type column: nothing to type after a flag
        return params


class FlagCommand(_FlagsAreBare, TyperCommand):
    """A command whose help shows its flags without a type."""


class FlagGroup(_FlagsAreBare, TyperGroup):
    """A command group whose help shows its flags (``--help``) without a type; its commands are :class:`FlagCommand`."""
