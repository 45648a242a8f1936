"""`voice-agent flow ...`: check flow files and draw them, for people editing flows by hand.

Problems go to stderr as ``file:line: message. Fix: ...`` (the format editors
and CI annotate), the exit code is 1 when any file has a problem, and no
input, however broken, produces a traceback.
"""

from __future__ import annotations

from pathlib import Path

import typer

from agent.flow.loader import FlowProblem, check_flow
from agent.flow.mermaid import to_mermaid
from agent.flow.models import Flow
from agent.plugins import default_registry

flow_app = typer.Typer(help="Check call flow files and draw them as diagrams.", no_args_is_help=True)


def _check(path: Path) -> tuple[Flow | None, list[FlowProblem]]:
    """check_flow, with any unexpected failure turned into a problem instead of a traceback."""
    try:
        return check_flow(path, default_registry())
    except Exception as exc:
        return None, [FlowProblem(str(path), None, f"could not check this flow: {exc!r}", "please report this as a bug")]


def _print_problems(problems: list[FlowProblem]) -> None:
    for problem in problems:
        typer.echo(str(problem), err=True)


@flow_app.command()
def validate(
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="Flow YAML files to check."),
) -> None:
    """Check flow files; print `FILE: ok (N nodes)` or every problem with its line and a fix."""
    failed = False
    for path in files:
        flow, problems = _check(path)
        if problems or flow is None:
            failed = True
            _print_problems(problems)
        else:
            typer.echo(f"{path}: ok ({len(flow.nodes)} nodes)")
    if failed:
        raise typer.Exit(1)


@flow_app.command()
def show(file: Path = typer.Argument(..., metavar="FILE", help="Flow YAML file to draw.")) -> None:
    """Print the flow as a Mermaid flowchart (paste it into a Markdown file or mermaid.live)."""
    flow, problems = _check(file)
    if problems or flow is None:
        _print_problems(problems)
        raise typer.Exit(1)
    typer.echo(to_mermaid(flow), nl=False)
