"""`voice-agent flow ...`: check flow files and draw them, for people editing flows by hand.

Problems go to stderr as ``file:line: message. Fix: ...`` (the format editors
and CI annotate), the exit code is 1 when any file has a problem, and no
input, however broken, produces a traceback.
"""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.help import FlagCommand, FlagGroup
from agent.flow.loader import FlowProblem, check_flow
from agent.flow.mermaid import to_mermaid
from agent.flow.models import Flow
from agent.core.registry import default_registry

flow_app = typer.Typer(help="Check call flow files and draw them as diagrams.", no_args_is_help=True, cls=FlagGroup)


def _check(path: Path, warnings: list[FlowProblem] | None = None) -> tuple[Flow | None, list[FlowProblem]]:
    """check_flow, with any unexpected failure turned into a problem instead of a traceback."""
    try:
        return check_flow(path, default_registry(), warnings=warnings)
    except Exception as exc:
        return None, [FlowProblem(str(path), None, f"could not check this flow: {exc!r}", "please report this as a bug")]


def _print_problems(problems: list[FlowProblem]) -> None:
    for problem in problems:
        typer.echo(str(problem), err=True)


@flow_app.command(cls=FlagCommand)
def validate(
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="Flow YAML files to check."),
) -> None:
    """Check flow files; print `FILE: ok (N nodes)` or every problem with its line and a fix (warnings too: they pass)."""
    failed = False
    for path in files:
        warnings: list[FlowProblem] = []
        flow, problems = _check(path, warnings)
        _print_problems(warnings)
        if problems or flow is None:
            failed = True
            _print_problems(problems)
        else:
            typer.echo(f"{path}: ok ({len(flow.nodes)} nodes)")
    if failed:
        raise typer.Exit(1)


@flow_app.command(cls=FlagCommand)
def show(file: Path = typer.Argument(..., metavar="FILE", help="Flow YAML file to draw.")) -> None:
    """Print the flow as a Mermaid flowchart (paste it into a Markdown file or mermaid.live)."""
    flow, problems = _check(file)
    if problems or flow is None:
        _print_problems(problems)
        raise typer.Exit(1)
    typer.echo(to_mermaid(flow), nl=False)


@flow_app.command("import-ilert", cls=FlagCommand)
def import_ilert_command(
    file: Path = typer.Argument(..., metavar="FILE.json", help="An ilert call flow exported as JSON."),
    out: Path | None = typer.Option(None, "-o", "--output", metavar="OUT.yaml", help="Write the flow here instead of printing it."),
) -> None:
    """Convert an ilert call flow to a flow YAML; print what could not be carried over, then check the result."""
    import json
    import tempfile

    from agent.flow.ilert_import import IlertImportError, import_ilert

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        typer.echo(f"{file}: cannot read the file: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"{file}: not valid JSON: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        text, warnings = import_ilert(data)
    except IlertImportError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:  # a shape we did not foresee: one line, no traceback
        typer.echo(f"{file}: could not convert this call flow: {exc!r}", err=True)
        raise typer.Exit(1) from None
    for warning in warnings:
        typer.echo(f"{file}: {warning}", err=True)
    if out is not None:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            typer.echo(f"{out}: cannot write the flow: {exc.strerror or exc}", err=True)
            raise typer.Exit(1) from None
        _print_problems(_check(out)[1])
        typer.echo(f"{out}: written", err=True)
        return
    typer.echo(text, nl=False)
    with tempfile.TemporaryDirectory() as tmp:
        written = Path(tmp) / (file.stem + ".yaml")
        written.write_text(text, encoding="utf-8")
        _print_problems(_check(written)[1])
