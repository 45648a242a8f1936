"""The studio's web app: the page, and the JSON API it edits, checks, saves and rehearses the opened flow through.

Safe by construction: the only file written is the one the app was created
with (no request names a path); every POST carries the page's CSRF token in
``X-Studio-Token``; on a loopback address only loopback ``Host`` headers are
served (no DNS rebinding); nothing from the settings but what the checks and
the simulator print reaches the page.
"""

from __future__ import annotations

import html
import json
import mimetypes
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, field_validator

from agent.core.registry import Registry, default_registry
from agent.core.settings import Settings
from agent.flow.mermaid import to_mermaid
from agent.flow.models import NODE_TYPES, Flow
from agent.flow.yamlfile import FileError
from agent.simulation.scripts import DEFAULT_FLOW, CallerScript, load_script
from agent.simulation.simulator import CallerTurn, at_time
from agent.studio.document import DocumentError, FlowDocument, to_json
from agent.studio.graph import branch_fields, flow_graph
from agent.studio.problems import check_text
from agent.studio.rehearsal import Chat, Chats, Rehearsal

STATIC = Path(__file__).parent / "static"
# Browsers run ES modules only when served as JavaScript; not every system's MIME table knows `.mjs`.
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")
TOKEN_HEADER = "X-Studio-Token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# The page runs only its own scripts, talks only to this server and is never framed by another site.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class Edited(BaseModel):
    """The page's whole flow (plain JSON, as edited) and the node renames since it was loaded or saved."""

    data: dict[str, Any]
    renames: list[tuple[str, str]] = Field(default_factory=list, max_length=1000)
    base: str | None = Field(None, max_length=1_000_000, description="An imported flow's text that replaces the file's.")


class SaveRequest(Edited):
    force: bool = False
    version: str


class CallSetup(Edited):
    at: str | None = Field(None, max_length=64)
    caller_number: str | None = Field(None, max_length=64)
    answer_calls: bool = True

    @field_validator("at")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        try:
            at_time(value)
        except ValueError:
            raise ValueError(f"the time of the call {value!r} is not an ISO 8601 time; write e.g. 2026-11-25T10:00:00+01:00") from None
        return value


class ScriptRun(CallSetup):
    script: str = Field(max_length=200)


class ChatTurn(BaseModel):
    text: str = Field("", max_length=2000)
    dtmf: str | None = Field(None, pattern=r"^[0-9*#]{1,32}$")
    hang_up: bool = False


class IlertImport(BaseModel):
    json_text: str = Field(max_length=2_000_000)


def caller_scripts(folders: list[Path]) -> dict[str, Path]:
    """The caller scripts the page may run, by name: ``*.yaml`` in the given folders (first name wins)."""
    found: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found.setdefault(path.stem, path.resolve())
    return found


class Studio:
    """One opened flow and what the page does with it."""

    def __init__(self, path: Path, *, registry: Registry, settings: Settings, scripts: dict[str, Path]) -> None:
        self.doc = FlowDocument(path)
        self.registry, self.settings, self.scripts = registry, settings, scripts
        self.token = secrets.token_urlsafe(32)
        self.rehearsal = Rehearsal(registry, settings, self.doc.path.parent)
        self.chats = Chats()

    # -- reading ------------------------------------------------------------------
    def text_of(self, edited: Edited) -> str:
        try:
            return self.doc.render(edited.data, [tuple(r) for r in edited.renames], edited.base)
        except DocumentError as exc:
            raise HTTPException(400, str(exc)) from None

    def checked(self, text: str) -> tuple[Flow | None, dict[str, Any]]:
        flow, problems = check_text(self.doc.path, text, self.registry, self.settings)
        return flow, {"problems": problems, "valid": flow is not None}

    def state(self) -> dict[str, Any]:
        try:
            data = self.doc.data()
        except Exception:  # noqa: BLE001 - not YAML (the checks below say where): nothing to edit until it is fixed
            data = {}
        _, checks = self.checked(self.doc.text)
        schema = Flow.model_json_schema()
        return {
            "file": self.doc.path.name,
            "folder": str(self.doc.path.parent),
            "version": self.doc.version,
            "yaml": self.doc.text,
            "data": data,
            "graph": flow_graph(data),
            **checks,
            "schema": schema,
            "node_types": NODE_TYPES,
            "branch_fields": branch_fields(),
            "plugins": {
                "sources": sorted(self.registry.sources),
                "platforms": sorted(self.registry.alert_platforms),
                "directories": sorted(self.registry.oncall_directories),
                "gathers": sorted(self.registry.gathers),
                "intents": sorted(self.registry.intents),
                "fallbacks": sorted(self.registry.fallbacks),
            },
            "scripts": [self._script_summary(name, path) for name, path in self.scripts.items()],
        }

    def _script_summary(self, name: str, path: Path) -> dict[str, Any]:
        try:
            script = load_script(path, flow=self.doc.path, registry=self.registry)
        except FileError as exc:
            return {"name": name, "error": str(exc).replace(str(path.parent) + "/", "")}
        return {"name": name, "description": script.description, "at": script.at, "caller_number": script.caller_number}

    def flow_for_call(self, edited: Edited) -> Flow:
        flow, checks = self.checked(self.text_of(edited))
        if flow is None:
            raise HTTPException(422, {"message": "the flow does not validate; fix its problems to rehearse it", **checks})
        return flow


def _require_token(studio: Studio, request: Request) -> None:
    sent = request.headers.get(TOKEN_HEADER, "")
    if not secrets.compare_digest(sent.encode(), studio.token.encode()):
        raise HTTPException(403, f"missing or wrong {TOKEN_HEADER}: reload the page")


def studio_router(studio: Studio) -> APIRouter:
    router = APIRouter()

    def token_checked(request: Request) -> None:
        """Every POST: the page's CSRF token, checked before the body is read (a forged request learns nothing)."""
        _require_token(studio, request)

    writes = [Depends(token_checked)]

    @router.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        body = (STATIC / "index.html").read_text(encoding="utf-8")
        body = body.replace("{{TOKEN}}", html.escape(studio.token)).replace("{{FILE}}", html.escape(studio.doc.path.name))
        return HTMLResponse(body, headers={"Cache-Control": "no-store", **PAGE_HEADERS})

    @router.get("/api/flow")
    def read_flow() -> dict[str, Any]:
        return studio.state()

    @router.post("/api/check", dependencies=writes)
    def check(edited: Edited) -> dict[str, Any]:
        text = studio.text_of(edited)
        _, checks = studio.checked(text)
        return {**checks, "graph": flow_graph(edited.data), "yaml": text}

    @router.post("/api/save", dependencies=writes)
    def save(body: SaveRequest) -> JSONResponse:
        if body.version != studio.doc.version:
            raise HTTPException(409, "the file was saved from another page or changed since this page loaded it; reload the page")
        text = studio.text_of(body)
        _, checks = studio.checked(text)
        if not checks["valid"] and not body.force:
            return JSONResponse(
                {"saved": False, "message": "not saved: the flow does not validate (save anyway to keep it as it is)", **checks},
                status_code=422,
            )
        try:
            studio.doc.write(text)
        except DocumentError as exc:
            raise HTTPException(409, str(exc)) from None
        except OSError as exc:
            raise HTTPException(500, f"cannot write {studio.doc.path.name}: {exc.strerror or exc}") from None
        return JSONResponse({"saved": True, "version": studio.doc.version, "file": studio.doc.path.name, **checks})

    @router.post("/api/mermaid", response_class=PlainTextResponse, dependencies=writes)
    def mermaid(edited: Edited) -> PlainTextResponse:
        flow, checks = studio.checked(studio.text_of(edited))
        if flow is None:
            raise HTTPException(422, {"message": "the flow does not validate; fix its problems to export it", **checks})
        return PlainTextResponse(to_mermaid(flow), media_type="text/plain; charset=utf-8")

    @router.post("/api/rehearse", dependencies=writes)
    async def rehearse(body: ScriptRun) -> dict[str, Any]:
        path = studio.scripts.get(body.script)
        if path is None:
            raise HTTPException(404, f"no caller script `{body.script}`; choose one of: {', '.join(studio.scripts)}")
        flow = studio.flow_for_call(body)
        try:
            script: CallerScript = load_script(path, flow=studio.doc.path, registry=studio.registry)
        except FileError as exc:
            raise HTTPException(422, {"message": str(exc)}) from None
        result = await studio.rehearsal.scripted(flow, script, at=body.at, caller_number=body.caller_number)
        return {"script": body.script, **result}

    @router.post("/api/chat", dependencies=writes)
    async def chat_start(body: CallSetup) -> dict[str, Any]:
        flow = studio.flow_for_call(body)
        chat = Chat(studio.rehearsal, flow, at=body.at, caller_number=body.caller_number, answer_calls=body.answer_calls)
        cid = studio.chats.add(chat)
        return {"chat": cid, **await chat.begin()}

    @router.post("/api/chat/{cid}", dependencies=writes)
    async def chat_turn(cid: str, body: ChatTurn) -> dict[str, Any]:
        chat = studio.chats.get(cid)
        if chat is None:
            raise HTTPException(404, "this call is over or unknown; start another")
        turn = None if body.hang_up else CallerTurn(text=body.text, dtmf=body.dtmf)
        return {"chat": cid, **await chat.turn(turn)}

    @router.post("/api/import-ilert", dependencies=writes)
    def import_ilert(body: IlertImport) -> dict[str, Any]:
        from ruamel.yaml import YAML

        from agent.flow.ilert_import import IlertImportError
        from agent.flow.ilert_import import import_ilert as convert

        try:
            text, warnings = convert(json.loads(body.json_text))
        except json.JSONDecodeError as exc:
            raise HTTPException(422, f"not valid JSON: {exc}") from None
        except IlertImportError as exc:
            raise HTTPException(422, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - a shape the importer did not foresee: one line, as the CLI says it
            raise HTTPException(422, f"could not convert this call flow: {exc!r}") from None
        data = to_json(YAML(typ="rt").load(text))
        _, checks = studio.checked(text)
        return {"data": data, "yaml": text, "warnings": warnings, "graph": flow_graph(data), **checks}

    return router


def _host_name(host: str) -> str:
    """``127.0.0.1:8765`` -> ``127.0.0.1``; ``[::1]:8765`` -> ``[::1]``."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.split(":", 1)[0].lower()


def create_studio_app(
    path: Path,
    *,
    registry: Registry | None = None,
    settings: Settings | None = None,
    scripts: dict[str, Path] | None = None,
    loopback: bool = True,
) -> FastAPI:
    """The studio for the flow file at ``path`` (the only file it writes)."""
    path = Path(path)
    if scripts is None:  # next to the flow (a project laid out like examples/), then the bundled example callers
        folder = path.resolve().parent
        scripts = caller_scripts([folder / "callers", folder.parent / "callers", DEFAULT_FLOW.parent.parent / "callers"])
    studio = Studio(path, registry=registry or default_registry(), settings=settings or Settings(), scripts=scripts)
    app = FastAPI(title="voice-agent studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio

    if loopback:
        @app.middleware("http")
        async def loopback_host_only(request: Request, call_next: Any) -> Any:
            if _host_name(request.headers.get("host", "")) not in LOOPBACK_HOSTS:
                return PlainTextResponse("the studio answers on 127.0.0.1 / localhost only", status_code=421)
            return await call_next(request)

    app.include_router(studio_router(studio))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
