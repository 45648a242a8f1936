"""`voice-agent studio [FLOW]`: the flow studio, a local page to see, edit, validate and rehearse a flow."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def studio(
    flow: Path = typer.Argument(None, help="Flow YAML to open; the only file the studio writes (default: the bundled example hotline)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on; keep the default unless you know why."),
    port: int = typer.Option(8765, "--port", help="Port (0: any free port)."),
) -> None:
    """Open a flow in the browser: see it as a graph, edit it in forms, check it as you type, rehearse calls, save."""
    import uvicorn

    from agent.core.logs import setup_logging
    from agent.flow.yamlfile import FileError
    from agent.simulation.scripts import DEFAULT_FLOW
    from agent.studio.app import create_studio_app

    setup_logging("WARNING")
    path = flow or DEFAULT_FLOW
    if not path.is_file():
        typer.echo(f"{path}: file not found. Fix: give the path of a flow YAML file", err=True)
        raise typer.Exit(1)
    try:
        app = create_studio_app(path, loopback=host in LOOPBACK)
    except (OSError, UnicodeDecodeError, FileError) as exc:
        typer.echo(f"{path}: cannot open the flow: {exc}", err=True)
        raise typer.Exit(1) from None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        typer.echo(f"cannot listen on {host}:{port}: {exc.strerror or exc}. Fix: pass another --port (or --port 0)", err=True)
        raise typer.Exit(1) from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    if host not in LOOPBACK:
        typer.echo(f"warning: listening on {host}: anyone who can reach it and has the page can edit {path.name}", err=True)
    typer.echo(f"Studio for {path.resolve()}: open {url}  (Ctrl-C to stop)", nl=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.run(sockets=[sock])

