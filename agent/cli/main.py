"""The `voice-agent` command: simulate, test and chat with flows; list plugins; check flows."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer

from agent.core.logs import setup_logging

setup_logging("WARNING")  # before Pipecat is imported: it logs at import time

import agent  # noqa: E402
from agent.cli.flow import flow_app  # noqa: E402
from agent.cli.help import FlagCommand, FlagGroup  # noqa: E402
from agent.cli.studio import studio  # noqa: E402
from agent.conversation.engines.realtime_text import EngineUnavailable  # noqa: E402
from agent.flow.loader import load_flow  # noqa: E402
from agent.core.logs import setup_logging
from agent.core.registry import default_registry  # noqa: E402
from agent.simulation.scripts import CallerScript, ScriptedCaller, load_script, mismatches  # noqa: E402
from agent.core.settings import Settings, engine_named  # noqa: E402
from agent.simulation.simulator import CallerTurn, walk_file  # noqa: E402
from agent.flow.yamlfile import FileError  # noqa: E402

EXAMPLES = Path(agent.__file__).resolve().parent.parent / "examples"
DEFAULT_FLOW = EXAMPLES / "flows" / "hotline.yaml"
DEFAULT_CALLER = EXAMPLES / "callers" / "new_outage.yaml"

app = typer.Typer(help="An AI voice agent for on-call hotlines.", no_args_is_help=True, add_completion=False, cls=FlagGroup)
app.add_typer(flow_app, name="flow")
app.command(cls=FlagCommand)(studio)

_SPEAKERS = {"agent": "Agent ", "caller": "Caller", "system": "  ·   "}


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _load(flow_path: Path):
    try:
        return load_flow(flow_path)
    except FileError as exc:
        raise _fail(str(exc)) from None


def _script(path: Path, flow: Path | None = None) -> CallerScript:
    """A caller script; with ``flow`` (a flow given on the command line) its own `flow:` is not needed."""
    try:
        return load_script(path, flow=flow)
    except FileError as exc:
        raise _fail(str(exc)) from None


def _print_turn(speaker: str, text: str) -> None:
    shown = text if text else "(silence)"
    typer.echo(f"{_SPEAKERS.get(speaker, speaker)}: {shown}")


async def _run(flow_path: Path, script: CallerScript, *, caller, at: str | None, echo: bool, engine: str = "deterministic"):
    return await walk_file(
        flow_path, caller, flow=_load(flow_path), caller_number=script.caller_number, at=at or script.at,
        answer_calls=script.answer_calls, engine=engine, on_event=_print_turn if echo else None,
    )


def _flow_for(script: CallerScript, script_path: Path, override: Path | None) -> Path:
    if override is not None:
        return override
    if script.flow:
        return (script_path.parent / script.flow).resolve()
    return DEFAULT_FLOW


@app.command(cls=FlagCommand)
def simulate(
    flow: Path = typer.Argument(None, help="Flow YAML (default: the bundled example hotline)."),
    caller: Path = typer.Option(None, "--caller", "-c", help="Caller script YAML (default: a caller reporting an outage)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: outcome and transcript."),
    at: str = typer.Option(None, "--at", help="Simulated time of the call, ISO 8601 (default: now)."),
    engine: str = typer.Option(
        "deterministic", "--engine",
        help="deterministic (no key, no network; 'offline' is its old name) or openai (the realtime model, text mode).",
    ),
) -> None:
    """Run a whole call through a flow with a scripted caller; no key, no network."""
    engine = engine_named(engine)
    if engine not in ("deterministic", "openai"):
        raise _fail(f"unknown engine {engine!r}. Fix: use --engine deterministic or --engine openai")
    settings = Settings()
    setup_logging(settings.log_level if not as_json else "ERROR")
    if engine == "openai" and settings.openai_api_key is None:
        raise _fail("--engine openai needs an OpenAI API key. Fix: set VOICE_AGENT_OPENAI_API_KEY (environment or .env), "
                    "or leave --engine out for the deterministic engine")
    script_path = caller or DEFAULT_CALLER
    script = _script(script_path, flow)
    flow_path = flow or _flow_for(script, script_path, None)
    if not flow_path.exists():
        raise _fail(f"{flow_path}: file not found. Fix: give the path of a flow YAML file")
    try:
        call, outcome = asyncio.run(
            _run(flow_path, script, caller=ScriptedCaller(script.caller_turns()), at=at, echo=not as_json, engine=engine)
        )
    except EngineUnavailable as exc:
        raise _fail(f"error: {exc}") from None
    except TimeoutError as exc:
        raise _fail(f"error: {exc or 'the call timed out'}"
                    + (f" (the OpenAI Realtime API at {settings.openai_realtime_url})" if engine == "openai" else "")) from None
    if as_json:
        payload = {
            "flow": str(flow_path),
            "outcome": outcome.model_dump(mode="json"),
            "transcript": [t.model_dump() for t in call.transcript],
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    typer.echo("")
    typer.echo(f"Outcome: intent={outcome.intent} branch={outcome.branch} end={outcome.end_reason}")
    typer.echo(f"  nodes:  {' -> '.join(outcome.nodes)}")
    for name, value in outcome.fields.items():
        typer.echo(f"  {name}: {', '.join(value) if isinstance(value, list) else value}")
    if outcome.facts_used:
        typer.echo(f"  facts used: {', '.join(outcome.facts_used)}")
    for dial in outcome.dials:
        typer.echo(f"  dialled {dial.name} ({dial.number}){' - answered' if dial.answered else ''}")
    if outcome.briefing:
        typer.echo(f"  briefing: {outcome.briefing}")
    for alert in outcome.alerts:
        typer.echo(f"  alert [{alert.priority}]: {alert.summary}")


@app.command("test", cls=FlagCommand)
def test_scripts(
    targets: list[Path] = typer.Argument(..., help="Caller scripts (*.yaml) with `expect` blocks, or folders of them."),
    flow: Path = typer.Option(None, "--flow", help="Run every script against this flow instead of its own."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print each call's transcript."),
) -> None:
    """Run caller scripts (each file given, every one in each folder given) as tests; exit 1 on any mismatch."""
    setup_logging("ERROR")
    paths: list[Path] = []
    for target in targets:
        if not target.exists():
            raise _fail(f"{target}: no such file or folder. Fix: check the path; pass caller scripts or a folder of them (e.g. examples/callers)")
        found = sorted(target.glob("*.yaml")) + sorted(target.glob("*.yml")) if target.is_dir() else [target]
        if not found:
            raise _fail(f"{target}: no caller scripts (*.yaml) found. Fix: pass caller scripts or a folder of them")
        paths += found
    failed = 0
    for path in paths:
        try:
            script = load_script(path, flow=flow)
        except FileError as exc:
            typer.echo(f"ERROR {path.name}\n{exc}")
            failed += 1
            continue
        flow_path = _flow_for(script, path, flow)
        _, outcome = asyncio.run(
            _run(flow_path, script, caller=ScriptedCaller(script.caller_turns()), at=None, echo=verbose)
        )
        problems = mismatches(script.expect, outcome) if script.expect else []
        if problems:
            failed += 1
            typer.echo(f"FAIL  {path.name}")
            for problem in problems:
                typer.echo(f"      {problem}")
        else:
            typer.echo(f"ok    {path.name}" + ("" if script.expect else "  (no expect block)"))
    typer.echo(f"{len(paths) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)


class TerminalCaller:
    """The developer plays the caller: a blank line is silence, `/keys 123` presses keys, Ctrl-D hangs up."""

    async def next_turn(self) -> CallerTurn | None:
        try:
            line = await asyncio.to_thread(input, "you> ")
        except EOFError:
            return None
        if line.strip() in ("/hangup", "/quit"):
            return None
        if line.startswith("/keys "):
            return CallerTurn(dtmf="".join(c for c in line[6:] if c in "0123456789*#"))
        return CallerTurn(text=line)


@app.command(cls=FlagCommand)
def chat(
    flow: Path = typer.Argument(None, help="Flow YAML (default: the bundled example hotline)."),
    caller_number: str = typer.Option("+15555550100", "--from", help="The caller ID to present."),
    at: str = typer.Option(None, "--at", help="Simulated time of the call, ISO 8601."),
) -> None:
    """Play the caller yourself, typing lines in the terminal."""
    setup_logging("ERROR")
    typer.echo("You are the caller. Blank line = silence, /keys 123 = keypad, /hangup or Ctrl-D = hang up.\n")
    script = CallerScript(caller_number=caller_number)

    def echo_agent(speaker: str, text: str) -> None:
        if speaker != "caller":
            _print_turn(speaker, text)

    flow_path = flow or DEFAULT_FLOW
    loaded = _load(flow_path)
    _, outcome = asyncio.run(
        walk_file(flow_path, TerminalCaller(), flow=loaded, caller_number=script.caller_number, at=at, on_event=echo_agent)
    )
    typer.echo(f"\nOutcome: intent={outcome.intent} branch={outcome.branch} end={outcome.end_reason}")


@app.command(cls=FlagCommand)
def serve(
    flow: Path = typer.Option(None, "--flow", help="Flow YAML to answer calls with (default: VOICE_AGENT_FLOW)."),
    host: str = typer.Option(None, "--host", help="Interface to listen on (default: VOICE_AGENT_HOST)."),
    port: int = typer.Option(None, "--port", help="Port (default: VOICE_AGENT_PORT)."),
) -> None:
    """Run the Twilio bot server: point your number's voice webhook at PUBLIC_URL/twilio/voice."""
    import uvicorn

    from agent.server.app import create_app

    overrides = {k: v for k, v in {"flow": str(flow) if flow else None, "host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)
    setup_logging(settings.log_level, keep_pii=settings.log_pii, json=settings.log_json)
    try:
        application = create_app(settings)
    except (FileError, ValueError) as exc:
        raise _fail(str(exc)) from None
    live = application.state.live
    if live.realtime:
        from agent.media.backends.choice import backends_in_use

        mode = "AI nodes on " + ", ".join(backends_in_use(live.flow, live.registry, settings))
    else:
        mode = "deterministic engine over Twilio speech recognition"
    typer.echo(f"Answering with {settings.flow} ({mode}); voice webhook: {settings.public_base_url}/twilio/voice")
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning", proxy_headers=True)


@app.command(cls=FlagCommand)
def plugins() -> None:
    """List installed plugins and what each provides (and any that failed)."""
    setup_logging("ERROR")
    registry = default_registry()
    for report in registry.plugins.values():
        status = "FAILED" if report.errors and not report.provides else "ok"
        typer.echo(f"{report.name}  [{status}]")
        for kind, names in report.provides.items():
            typer.echo(f"    {kind}: {', '.join(names)}")
        for error in report.errors:
            typer.echo(f"    error: {error}")
    if registry.backends:
        typer.echo(f"model backends (an AI node's `model: {{backend: ...}}`; default {Settings().model_backend}):")
    for name, backend in registry.backends.items():
        options = ", ".join(getattr(getattr(backend, "Options", None), "model_fields", {})) or "none"
        typer.echo(f"    {name}  options: {options}")
        env_vars = getattr(backend, "env_vars", None)
        if callable(env_vars) and env_vars():
            typer.echo(f"        settings: {', '.join(env_vars())}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
