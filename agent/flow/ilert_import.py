"""Convert an exported ilert call flow (JSON) into our flow YAML.

ilert's export shape is only partly documented, so this reads it tolerantly:

* the flow is the API object (``name``, ``language``, ``root``: a nested node
  tree whose branch ``target`` is a whole node object; a node found under
  several branches, by the same ``id``, is one node), or an object with a
  flat ``nodes`` list whose branch targets are node ids (``target`` as an id,
  or ``{"id": ...}``), or a bare root node;
* a node has ``id``, ``name``, ``nodeType``, ``metadata`` and ``branches``;
  a branch has ``branchType`` (BRANCH, CATCH_ALL, ANSWERED), ``condition``
  and ``target``; an IVR menu's keys are its ``enabledOptions``, a PIN
  node's PINs its ``codes``, a block list its ``blacklist`` (the names
  ilert's OpenAPI spec declares);
* a branch ``condition`` is an ICL expression over the call context
  (``context.connectedTarget == '-1'``): it is parsed and evaluated for
  each outcome of its node (:mod:`agent.flow.ilert_conditions`) with the
  context value that node type is known to set (``_CONTEXT`` below; an IVR
  menu's ``context.ivrChoice``). A CATCH_ALL branch takes every outcome no
  other branch names.

Everything that cannot be carried over is returned as a warning naming the
ilert node id, never dropped silently; a branch whose condition cannot be
read says which condition and why.
"""

from __future__ import annotations

import copy
import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from agent.flow.ilert_conditions import ConditionError, Other, Variable, outcomes, parse
from agent.flow.models import LanguageCode

__all__ = ["IlertImportError", "import_ilert"]

_LANGUAGES = set(LanguageCode.__args__)  # type: ignore[attr-defined]
_BUILTIN_INTENTS = {
    "INCIDENT": "incident",
    "SYSTEM_OUTAGE": "system_outage",
    "SECURITY_BREACH": "security_breach",
    "TECHNICAL_SUPPORT": "technical_support",
    "INQUIRY": "inquiry",
    "TALK_TO_HUMAN": "talk_to_human",
}
_BUILTIN_GATHERS = {
    "CALLER_NAME": "caller_name",
    "CONTACT_NUMBER": "contact_number",
    "EMAIL": "email",
    "INCIDENT": "incident",
    "AFFECTED_SERVICES": "affected_services",
}
_VAR_TYPES = {"NUMBER": "number", "DATE": "date", "BOOLEAN": "boolean", "STRING": "string", "TEXT": "string"}
_INFORMATION = {"INCIDENT": "incidents", "INCIDENTS": "incidents", "MAINTENANCE": "maintenance",
                "SERVICE_STATUS": "services", "SERVICES": "services", "ALERTS": "alerts"}
_IVR_KEYS = list("0123456789*#")

# What each node type sets in the call context, per outcome (published in terraform-provider-ilert's
# examples/call_flow/main.tf; see agent/flow/ilert_conditions.py). Node types missing here have no
# published branch condition: only their CATCH_ALL branch is read.
_CONTEXT: dict[str, tuple[str, dict[str, Any]]] = {
    "ROUTE_CALL": ("connectedTarget", {"completed": Other(("-1",)), "no_answer": "-1"}),
    "PARALLEL_ROUTE_CALL": ("connectedTarget", {"completed": Other(("-1",)), "no_answer": "-1"}),
    "VOICEMAIL": ("recordedMessageUrl", {"left": Other(), "not_left": None}),
    "SUPPORT_HOURS": ("supportHoursState", {"during": "DURING", "outside": "OUTSIDE"}),
}


class IlertImportError(ValueError):
    """The input is not an ilert call flow this importer can read."""


# --------------------------------------------------------------------------- helpers


def _s(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _get(d: Any, *keys: str) -> Any:
    """The first of ``keys`` present (and not empty) in ``d``."""
    if not isinstance(d, dict):
        return None
    for key in keys:
        value = d.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if slug and not slug[0].isalpha():
        slug = f"n_{slug}"
    return slug[:48].rstrip("_")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- reading the graph


class _Graph:
    """All ilert nodes by id, whatever shape the export had."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self._anon = 0
        self.root_id: str | None = None
        root = data.get("root")
        nodes = data.get("nodes") if isinstance(data.get("nodes"), list) else None
        if nodes is None and isinstance(data.get("callFlowNodes"), list):
            nodes = data["callFlowNodes"]
        if isinstance(root, dict):
            self.root_id = self._add(root)
        elif root is not None and nodes is not None:
            self.root_id = str(root)
        if nodes is not None:
            for node in nodes:
                if isinstance(node, dict):
                    self._add(node)
        if "nodeType" in data and self.root_id is None and nodes is None:
            self.root_id = self._add(data)
        if self.root_id is None:
            roots = [nid for nid, n in self.nodes.items() if str(n.get("nodeType", "")).upper() == "ROOT"]
            self.root_id = roots[0] if roots else (self.order[0] if self.order else None)
        if not self.nodes or self.root_id is None:
            raise IlertImportError("not an ilert call flow: no `root` node and no `nodes` list")

    def _add(self, node: dict[str, Any]) -> str:
        nid = _s(node.get("id"))
        if nid is None:
            self._anon += 1
            nid = f"anonymous{self._anon}"
        if nid not in self.nodes or not self.nodes[nid].get("nodeType"):
            self.nodes[nid] = node
            if nid not in self.order:
                self.order.append(nid)
            for branch in node.get("branches") or []:
                if isinstance(branch, dict) and isinstance(branch.get("target"), dict) and branch["target"].get("nodeType"):
                    branch["_target_id"] = self._add(branch["target"])
        return nid

    @staticmethod
    def target_id(branch: dict[str, Any]) -> str | None:
        if "_target_id" in branch:
            return branch["_target_id"]
        target = branch.get("target")
        if target is None:
            target = _get(branch, "targetId", "targetNodeId", "nextNodeId")
        if isinstance(target, dict):
            return _s(target.get("id"))
        return _s(target)


# --------------------------------------------------------------------------- conversion


class _Importer:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.graph = _Graph(data)
        self.warnings: list[str] = []
        self.timezone = _s(_get(data, "timezone", "timeZone")) or "UTC"
        self.ids: dict[str, str] = {}  # ilert id -> our id
        self.skip: dict[str, str | None] = {}  # ilert id of a node left out -> where callers go instead
        self.support_hours_warned = False

    def warn(self, ilert_id: str, text: str) -> None:
        self.warnings.append(f"ilert node {ilert_id}: {text}")

    # ---- ids and branch targets

    def _assign_ids(self) -> None:
        used: set[str] = set()
        for iid in self.graph.order:
            node = self.graph.nodes[iid]
            base = _slug(_s(node.get("name")) or "") or "node_" + (re.sub(r"[^a-z0-9]+", "_", iid.lower()).strip("_") or "x")
            nid, n = base, 2
            while nid in used:
                nid, n = f"{base}_{n}", n + 1
            used.add(nid)
            self.ids[iid] = nid

    def ref(self, iid: str | None, seen: frozenset[str] = frozenset()) -> str | None:
        """Our node id for a branch into ilert node ``iid`` (skipped nodes are passed through)."""
        if iid is None:
            return None
        if iid in self.skip:
            if iid in seen:
                return None
            return self.ref(self.skip[iid], seen | {iid})
        if iid not in self.graph.nodes:
            self.warnings.append(f"ilert branch target {iid}: no such node in the export; the branch now ends the call")
            return None
        return self.ids[iid]

    def branches(self, node: dict[str, Any]) -> list[tuple[str, str, str | None]]:
        """(branchType, condition, target ilert id) of each branch."""
        out = []
        for b in node.get("branches") or []:
            if isinstance(b, dict):
                out.append((str(b.get("branchType") or "BRANCH").upper(), str(b.get("condition") or ""), self.graph.target_id(b)))
        return out

    def _map_branches(
        self, iid: str, node: dict[str, Any], variable: Variable | None, what: str = "branch",
        unmapped: str | None = None, seen: list[str] | None = None,
    ) -> tuple[dict[str, str | None], str | None, bool]:
        """Each outcome a branch condition names -> our target; and the catch-all's target (and whether there is one).

        ``variable`` is what the node sets in the call context per outcome (None: nothing published,
        so a conditional branch cannot be read: ``unmapped`` says why). A branch that cannot be mapped
        is reported and dropped. A variable without a name (not published) is read from whichever
        ``context.`` value a condition compares; those names are added to ``seen``.
        """
        ntype = str(node.get("nodeType") or "").upper()
        out: dict[str, str | None] = {}
        rest: str | None = None
        has_rest = False
        for btype, cond, target in self.branches(node):
            if btype == "CATCH_ALL" or not cond.strip():
                rest, has_rest = target, True
                continue
            try:
                if variable is None:
                    raise ConditionError(unmapped or f"ilert publishes no branch condition for {ntype} nodes "
                                                     "(only their CATCH_ALL is read)")
                fresh = Variable(variable.name, variable.values)
                names = outcomes(parse(cond), fresh, ntype)
                if seen is not None:
                    seen.extend(n for n in fresh.seen if n not in seen)
            except ConditionError as exc:
                self.warn(iid, f"{what} condition {cond!r} not mapped: {exc}; branch dropped")
                continue
            for name in names:
                if name in out:
                    self.warn(iid, f"a second branch for `{name}` ({cond!r}) dropped")
                else:
                    out[name] = self.ref(target)
        return out, (self.ref(rest) if has_rest else None), has_rest

    def _outcomes(
        self, iid: str, node: dict[str, Any], catch_all: str, names: list[str], fill_all: bool = True
    ) -> dict[str, str | None]:
        """Sort a node's branches into our outcome fields by their conditions (see ``_CONTEXT``)."""
        ntype = str(node.get("nodeType") or "").upper()
        published = _CONTEXT.get(ntype)
        variable = Variable(published[0], published[1]) if published else None
        out, rest, has_rest = self._map_branches(iid, node, variable)
        if has_rest:  # the catch-all takes every outcome no branch names
            for name in [catch_all] + ([n for n in names if n != catch_all] if fill_all else []):
                if name not in out:
                    out[name] = rest
        return {name: out.get(name) for name in names}

    def _next(self, iid: str, node: dict[str, Any]) -> str | None:
        branches = self.branches(node)
        if len(branches) > 1:
            self.warn(iid, f"{len(branches)} branches on a node with one way on; only the first is kept")
        return self.ref(branches[0][2]) if branches else None

    # ---- the whole flow

    def run(self) -> tuple[CommentedMap, list[str]]:
        self._assign_ids()
        root_id = self.graph.root_id
        assert root_id is not None
        for iid, node in self.graph.nodes.items():
            ntype = str(node.get("nodeType") or "").upper()
            if ntype == "ROOT":
                answered = [t for bt, _, t in self.branches(node) if bt == "ANSWERED"] or [t for _, _, t in self.branches(node)]
                self.skip[iid] = answered[0] if answered else None
            elif ntype == "PLAIN" and not _get(node.get("metadata"), "textMessage", "customAudioUrl"):
                branches = self.branches(node)
                self.skip[iid] = branches[0][2] if branches else None
            elif ntype not in _CONVERTERS:
                branches = self.branches(node)
                target = branches[0][2] if branches else None
                self.skip[iid] = target
                then = f"callers go on to ilert node {target}" if target else "the call ends there"
                self.warn(iid, f"node type {ntype or '(none)'} ({node.get('name') or 'unnamed'}) has no equivalent; left out, {then}")
        start = self.ref(root_id)
        nodes = CommentedMap()
        for iid, node in self.graph.nodes.items():
            if iid in self.skip:
                continue
            ntype = str(node.get("nodeType")).upper()
            meta = node.get("metadata") if isinstance(node.get("metadata"), dict) else {}
            out = CommentedMap()
            converted = _CONVERTERS[ntype](self, iid, node, meta)
            out["type"] = converted.pop("type")
            name = _s(node.get("name"))
            if name:
                out["name"] = name
            out.update(converted)
            our_id = self.ids[iid]
            nodes[our_id] = out
            nodes.yaml_add_eol_comment(f"ilert node {iid} ({ntype})", our_id)
        if start is None or not nodes:
            raise IlertImportError("not an ilert call flow: the root leads to no node that could be converted")
        flow = CommentedMap()
        flow["name"] = _s(self.data.get("name")) or "Imported ilert call flow"
        flow["description"] = f"Imported from ilert call flow {self.data.get('id', '')}".rstrip()
        language = (_s(self.data.get("language")) or "en").lower()
        flow["language"] = language
        flow["timezone"] = self.timezone
        flow["start"] = start
        flow["nodes"] = nodes
        return flow, self.warnings

    # ---- node types

    def audio_message(self, iid: str, node: dict, meta: dict) -> dict:
        out: dict[str, Any] = {"type": "audio_message"}
        text, audio = _s(meta.get("textMessage")), _s(meta.get("customAudioUrl"))
        if audio:
            out["audio_url"] = audio
            if text:
                self.warn(iid, "textMessage dropped: the node plays customAudioUrl; remove `audio_url` to speak the text instead")
        elif text:
            out["text"] = text
        if not text and not audio:
            out["text"] = "(message missing)"
            self.warn(iid, "message has neither textMessage nor customAudioUrl; `text` must be filled in")
        self._voice_note(iid, meta)
        out["next"] = self._next(iid, node)
        return out

    def _voice_note(self, iid: str, meta: dict) -> None:
        if _s(meta.get("aiVoiceModel")):
            self.warn(iid, f"aiVoiceModel {meta['aiVoiceModel']!r} dropped (ilert voices have no equivalent; set `voice` on the AI node)")

    def support_hours(self, iid: str, node: dict, meta: dict) -> dict:
        hours_id = _s(meta.get("supportHoursId")) or "(none)"
        self.warn(iid, f"support hours {hours_id} live in ilert and are not in the export: the node answers 24/7 "
                       f"in {self.timezone}; fill in `hours` and `timezone`")
        out = {"type": "support_hours", "timezone": _s(meta.get("timezone")) or self.timezone,
               "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}]}
        out.update(self._outcomes(iid, node, "outside", ["during", "outside"]))
        return out

    def voicemail(self, iid: str, node: dict, meta: dict) -> dict:
        out: dict[str, Any] = {"type": "voicemail"}
        if _s(meta.get("textMessage")):
            out["prompt"] = _s(meta["textMessage"])
        if _s(meta.get("customAudioUrl")):
            self.warn(iid, "customAudioUrl dropped (voicemail prompts are spoken text); check `prompt`")
        out["create_alert"] = True
        out["platform"] = {"type": "ilert"}
        self._voice_note(iid, meta)
        out.update(self._outcomes(iid, node, "not_left", ["left", "not_left"]))
        return out

    def create_alert(self, iid: str, node: dict, meta: dict) -> dict:
        out: dict[str, Any] = {"type": "create_alert"}
        summary = _s(_get(meta, "summary", "alertSummary"))
        if summary:
            out["summary"] = summary
        priority = (_s(meta.get("priority")) or "HIGH").lower()
        out["priority"] = "low" if priority == "low" else "high"
        if _s(meta.get("alertSourceId")):
            out["source"] = _s(meta["alertSourceId"])
        out["platform"] = {"type": "ilert"}
        if meta.get("acceptAlertOnAnswer"):
            self.warn(iid, "acceptAlertOnAnswer not carried over: the alert stays pending until the engineer accepts it")
        out["next"] = self._next(iid, node)
        return out

    def route_call(self, iid: str, node: dict, meta: dict, parallel: bool = False) -> dict:
        targets = []
        for t in meta.get("targets") or []:
            if not isinstance(t, dict):
                t = {"target": t, "type": "NUMBER"}
            ttype = str(t.get("type") or "").upper()
            value = _s(_get(t, "target", "id", "targetId", "value", "number", "phoneNumber"))
            label = _s(_get(t, "name", "label"))
            if value is None:
                self.warn(iid, f"route target without an id or number dropped: {t}")
                continue
            if ttype == "NUMBER":
                entry = {"type": "number", "number": value}
            elif ttype in ("USER", "ON_CALL_SCHEDULE", "ESCALATION_POLICY", "SCHEDULE"):
                entry = {"type": {"SCHEDULE": "on_call_schedule"}.get(ttype, ttype.lower()), "id": value}
            else:
                self.warn(iid, f"route target type {ttype or '(none)'} ({value}) has no equivalent; dropped")
                continue
            if label:
                entry["name"] = label
            targets.append(entry)
        if not targets:
            self.warn(iid, "route call has no usable targets; replaced by a hangup node: add `targets`")
            return {"type": "hangup", "text": "Sorry, nobody can take your call right now."}
        out: dict[str, Any] = {"type": "route_call", "targets": targets}
        style = "parallel" if parallel else (_s(meta.get("callStyle")) or "ORDERED").lower()
        if style not in ("ordered", "random", "parallel"):
            self.warn(iid, f"callStyle {meta.get('callStyle')!r} unknown; using ordered")
            style = "ordered"
        out["call_style"] = style
        timeout = _int(meta.get("callTimeoutSec"))
        if timeout is not None:
            if not 5 <= timeout <= 120:
                self.warn(iid, f"callTimeoutSec {timeout} outside 5..120; clamped")
            out["ring_timeout"] = min(max(timeout, 5), 120)
        retries = _int(meta.get("retries"))
        if retries is not None:
            if not 0 <= retries <= 5:
                self.warn(iid, f"retries {retries} outside 0..5; clamped")
            out["retries"] = min(max(retries, 0), 5)
        if _s(meta.get("textMessage")):
            out["hold_message"] = _s(meta["textMessage"])
        if _s(meta.get("holdAudioUrl")):
            self.warn(iid, f"holdAudioUrl {meta['holdAudioUrl']} dropped (callers hear `hold_message`)")
        if any(t["type"] != "number" for t in targets):
            out["on_call"] = {"type": "ilert"}
        out.update(self._outcomes(iid, node, "no_answer", ["completed", "no_answer"]))
        return out

    def parallel_route_call(self, iid: str, node: dict, meta: dict) -> dict:
        return self.route_call(iid, node, meta, parallel=True)

    def ivr_menu(self, iid: str, node: dict, meta: dict) -> dict:
        enabled: list[str] = []
        for option in meta.get("enabledOptions") or []:
            key = str(option).strip()
            if key not in _IVR_KEYS:
                self.warn(iid, f"enabledOptions entry {option!r} is not a key (0-9, *, #); dropped")
            elif key not in enabled:
                enabled.append(key)
        keys = enabled or _IVR_KEYS  # without enabledOptions, a branch may name any key
        options, no_input, _ = self._map_branches(iid, node, Variable("ivrChoice", {k: k for k in keys}), "IVR branch")
        for key in enabled:
            if key not in options:
                self.warn(iid, f"IVR key {key} is enabled but has no branch; pressing it ends the call")
                options[key] = None
        options = {k: options[k] for k in _IVR_KEYS if k in options}
        prompt = _s(meta.get("textMessage"))
        if not prompt:
            prompt = " ".join(f"For option {k}, press {k}." for k in options) or "Please choose an option."
            if _s(meta.get("customAudioUrl")):
                self.warn(iid, "customAudioUrl dropped; the prompt was written from the keys")
        if not options:
            self.warn(iid, "IVR menu has no keys; `options` must be filled in")
        self._voice_note(iid, meta)
        out: dict[str, Any] = {"type": "ivr_menu", "prompt": prompt, "options": options}
        retries = _int(meta.get("retries"))
        if retries is not None:
            if not 0 <= retries <= 5:
                self.warn(iid, f"retries {retries} outside 0..5; clamped")
            out["retries"] = min(max(retries, 0), 5)
        out["no_input"] = no_input
        return out

    def pin_code(self, iid: str, node: dict, meta: dict) -> dict:
        codes = [c for c in meta.get("codes") or [] if isinstance(c, dict)]
        pins = [str(c["code"]) for c in codes if c.get("code") is not None]
        good = [p for p in pins if re.fullmatch(r"\d{3,12}", p)]
        if len(good) < len(pins):
            self.warn(iid, f"{len(pins) - len(good)} PIN(s) that are not 3-12 digits dropped")
        if len(pins) < len(codes):
            self.warn(iid, f"{len(codes) - len(pins)} PIN code(s) without a `code` dropped")
        labels = [str(c["label"]) for c in codes if _s(c.get("label"))]
        if labels:
            self.warn(iid, f"PIN labels ({', '.join(labels)}) not carried over: any listed PIN matches")
        if not good:
            self.warn(iid, "no PIN codes in the export; `pins` must be filled in")
        out: dict[str, Any] = {"type": "pin_code"}
        if _s(meta.get("textMessage")):
            out["prompt"] = _s(meta["textMessage"])
        out["pins"] = CommentedSeq(good)
        if _int(meta.get("retries")):
            out["attempts"] = min(max(_int(meta["retries"]) or 1, 1), 5)
        self._voice_note(iid, meta)
        out.update(self._outcomes(iid, node, "no_match", ["match", "no_match"]))
        return out

    def block_numbers(self, iid: str, node: dict, meta: dict) -> dict:
        numbers = [str(n) for n in meta.get("blacklist") or [] if _s(n)]
        out: dict[str, Any] = {"type": "block_numbers", "numbers": numbers}
        out.update(self._outcomes(iid, node, "allowed", ["allowed", "blocked"], fill_all=False))  # blocked: hang up
        return out

    def agentic(self, iid: str, node: dict, meta: dict) -> dict:
        out: dict[str, Any] = {"type": "ai_agent"}
        greeting = _s(_get(meta, "textMessage", "greeting"))
        if not greeting:
            greeting = "Hello, this is the on-call hotline. What's going on?"
            self.warn(iid, "AGENTIC node has no textMessage; a default greeting was used")
        out["greeting"] = greeting
        declared: dict[str, str] = {}  # our intent name -> ilert's intent type
        for intent in meta.get("intents") or []:
            if not isinstance(intent, dict):
                intent = {"type": intent}
            itype = str(intent.get("type") or "").upper()
            name = _BUILTIN_INTENTS.get(itype)
            if name is None:
                self.warn(iid, f"intent type {itype or '(none)'} ({intent.get('label') or ''}) is not a built-in intent; "
                               "dropped (a custom intent needs a plugin)")
                continue
            declared.setdefault(name, itype)
            if intent.get("description") or intent.get("examples"):
                self.warn(iid, f"intent {name}: ilert's description/examples not carried over "
                               "(the built-in intent brings its own)")
        # ilert publishes no AGENTIC branch condition: a branch is read as comparing some `context.`
        # value with the declared intent types (INCIDENT, ...), and the import says which value it read.
        seen: list[str] = []
        intents, fallback, has_fallback = self._map_branches(
            iid, node, Variable(None, {name: itype for name, itype in declared.items()}) if declared else None,
            "AGENTIC branch", unmapped="the node declares no built-in intent to compare with", seen=seen,
        )
        if seen:
            self.warn(iid, "AGENTIC branch conditions read " + ", ".join(f"`context.{n}`" for n in seen)
                      + ", which ilert's published material does not name; each branch was mapped by the intent "
                        "type it compares with: check `intents`")
        intents = {name: intents[name] for name in declared if name in intents}
        for name in declared:
            if name not in intents:
                intents[name] = fallback
                self.warn(iid, f"intent {name} has no branch; it goes where the catch-all goes")
        if not intents:
            self.warn(iid, "AGENTIC node has no intents; callers asking for a person go where the catch-all goes")
        if "talk_to_human" not in intents and (has_fallback or not intents):
            intents["talk_to_human"] = fallback  # asking for a person: where ilert's catch-all goes
        if not has_fallback:
            self.warn(iid, "AGENTIC node has no CATCH_ALL branch; `fallback` ends the call")
        out["intents"] = intents
        gathers: list[Any] = []
        used: set[str] = set()
        for g in meta.get("gathers") or []:
            if not isinstance(g, dict):
                g = {"type": g}
            gtype = str(g.get("type") or "").upper()
            required = bool(g.get("required", True))
            builtin = _BUILTIN_GATHERS.get(gtype)
            var_type = _VAR_TYPES.get(str(g.get("varType") or "").upper())
            if builtin and not g.get("varType"):
                if builtin in used:
                    continue
                used.add(builtin)
                gathers.append(builtin if required else {"name": builtin, "required": False})
                continue
            if var_type is None:
                self.warn(iid, f"gather {gtype or g.get('label') or g} is neither built in nor has a known varType; dropped")
                continue
            label = _s(g.get("label")) or _s(g.get("name")) or gtype.lower() or "field"
            base = _slug(label) or "field"
            if base in _BUILTIN_GATHERS.values():
                base = f"custom_{base}"
            name, n = base, 2
            while name in used:
                name, n = f"{base}_{n}", n + 1
            used.add(name)
            question = _s(g.get("question"))
            if not question:
                question = f"What is the {label}?"
                self.warn(iid, f"custom gather {label} has no question; one was written from its label")
            gathers.append({"name": name, "label": label, "question": question, "type": var_type, "required": required})
        if gathers:
            out["gathers"] = gathers
        enrichment = meta.get("enrichment")
        if isinstance(enrichment, dict) and enrichment.get("enabled", True):
            info = []
            for t in enrichment.get("informationTypes") or []:
                mapped = _INFORMATION.get(str(t).upper())
                if mapped is None:
                    self.warn(iid, f"enrichment information type {t} unknown; dropped")
                elif mapped not in info:
                    info.append(mapped)
            services: list[str] = []
            for src in enrichment.get("sources") or []:
                stype = str(_get(src, "type") or "").upper() if isinstance(src, dict) else ""
                sid = _s(_get(src, "id", "sourceId")) if isinstance(src, dict) else _s(src)
                if stype == "SERVICE" and sid:
                    services.append(sid)
                else:
                    self.warn(iid, f"enrichment source {stype or '?'} {sid or ''} not kept: the ilert source reads "
                                   "all of ilert's incidents, services and maintenance (filter with `services`)")
            source: dict[str, Any] = {"type": "ilert"}
            if info:
                source["information"] = info
            if services:
                source["services"] = services
            out["enrichment"] = {"sources": [source]}
        elif isinstance(enrichment, dict):
            self.warn(iid, "enrichment is disabled in ilert; not imported")
        out["fallback"] = fallback
        language = (_s(meta.get("language")) or "").lower()
        if language:
            if language in _LANGUAGES:
                out["language"] = language
            else:
                self.warn(iid, f"language {language} not supported; left at en")
        self._voice_note(iid, meta)
        return out


_CONVERTERS: dict[str, Any] = {
    "AUDIO_MESSAGE": _Importer.audio_message,
    "PLAIN": _Importer.audio_message,
    "SUPPORT_HOURS": _Importer.support_hours,
    "ROUTE_CALL": _Importer.route_call,
    "PARALLEL_ROUTE_CALL": _Importer.parallel_route_call,
    "VOICEMAIL": _Importer.voicemail,
    "PIN_CODE": _Importer.pin_code,
    "CREATE_ALERT": _Importer.create_alert,
    "BLOCK_NUMBERS": _Importer.block_numbers,
    "IVR_MENU": _Importer.ivr_menu,
    "AGENTIC": _Importer.agentic,
}


def import_ilert(data: dict[str, Any]) -> tuple[str, list[str]]:
    """Our flow YAML for an ilert call flow, and a warning for everything that could not be carried over.

    Raises :class:`IlertImportError` when ``data`` is not a call flow.
    """
    data = copy.deepcopy(data)
    if isinstance(data, list):
        data = {"nodes": data}
    if not isinstance(data, dict):
        raise IlertImportError("not an ilert call flow: expected a JSON object")
    for wrapper in ("callFlow", "data"):
        if isinstance(data.get(wrapper), dict) and "root" not in data and "nodes" not in data:
            data = data[wrapper]
    flow, warnings = _Importer(data).run()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    buf.write(f"# Imported from an ilert call flow ({len(warnings)} warning(s)); review before use.\n")
    yaml.dump(flow, buf)
    return buf.getvalue(), warnings
