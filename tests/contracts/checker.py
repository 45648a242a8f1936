"""Check what we send to and read from a vendor against the vendor's published contract.

The contracts are the files next to this module (see README.md for where each comes from):

* ``ilert``: ilert's OpenAPI 3.0 spec, trimmed (``ilert/openapi.json``);
* ``pagerduty-rest`` / ``pagerduty-events``: PagerDuty's REST API and Events API v2 OpenAPI specs,
  trimmed (``pagerduty/rest.json``, ``pagerduty/events-v2.json``);
* ``statuspage``: a JSON Schema of the documented public ``/api/v2/summary.json``
  (``statuspage/summary.schema.json``);
* ``openai``: OpenAI's OpenAPI spec, trimmed to chat completions and transcriptions (``openai/openapi.json``).

Validation is done by ``jsonschema`` (Draft 2020-12) on the vendor's own schemas after a mechanical
OpenAPI 3.0 -> JSON Schema translation, never by hand-written field checks:

* ``nullable: true`` becomes a type list with ``"null"`` (and ``None`` joins an ``enum``);
* ``$ref`` siblings are dropped (OpenAPI 3.0 ignores them); an OpenAPI 3.1 document keeps them (3.1 schemas
  are JSON Schema 2020-12, where they apply), and ``nullable`` is translated there too (OpenAI's 3.1 spec uses it);
* boolean ``exclusiveMinimum``/``exclusiveMaximum`` become the numeric form;
* STRICT: every schema that is used as a value (a property's value, array items, a oneOf/anyOf
  branch, a parameter, a request or response body) and declares properties gets
  ``unevaluatedProperties: false``. ``allOf`` members do not (so compositions still work: the
  properties of every member count as evaluated). An object schema that declares no properties at
  all (``{"type": "object"}``) is a free-form map and stays open; an explicit ``additionalProperties``
  is respected (it decides on the extra properties; nothing is added next to it).

Usage::

    contract = Contract.load("pagerduty-rest")
    contract.check_request(request)                                 # an httpx.Request we sent
    contract.check_response("GET", "/incidents", body)              # a fixture / a vendor answer
    contract.schema_check("ContactPhoneNumber", instance)           # one component schema

What we send is held to more than what we read: a field or parameter the spec marks ``deprecated``
fails in a request (the vendor says to send something else), never in an answer. Request bodies are
checked when they are JSON or a form, ``multipart/form-data`` or ``application/x-www-form-urlencoded``,
both read the same way (each form field is the schema's property of that name, typed as the schema types
it; a repeated name or ``name[]`` is an array; a file part is a string, ``format: binary``).

A vendor's own ``format`` values are checked in requests by functions given as ``formats``::

    Contract(name, vendor, document, "openapi", formats={"twiml": check_twiml_text})

Each is called with every string we send whose schema has that ``format`` (it takes the place of
jsonschema's check of that format); it raises ``ValueError`` or ``AssertionError`` (a
``ContractViolation`` is one) whose text is the reason, reported at the value's JSON path.

Every failure raises :class:`ContractViolation` naming the vendor, the operation, the JSON path of
the offending field and the reason.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qsl, urlparse

import httpx
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = Path(__file__).resolve().parent
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")  # request bodies read as an object of fields

# name -> (file, vendor as named in messages, kind)
CONTRACTS: dict[str, tuple[str, str, str]] = {
    "ilert": ("ilert/openapi.json", "ilert", "openapi"),
    "pagerduty-rest": ("pagerduty/rest.json", "PagerDuty REST API", "openapi"),
    "pagerduty-events": ("pagerduty/events-v2.json", "PagerDuty Events API v2", "openapi"),
    "statuspage": ("statuspage/summary.schema.json", "Statuspage public API", "jsonschema"),
    "openai": ("openai/openapi.json", "OpenAI API", "openapi"),
}

# Violations seen inside respx side effects (a plugin may swallow the exception); the pytest
# plugin (tests/contracts/plugin.py) fails the test with them at teardown.
RECORDED: list["ContractViolation"] = []


class ContractViolation(AssertionError):
    """What we sent or read is not an instance of the vendor's published contract."""


# --- OpenAPI 3.0 schema -> JSON Schema 2020-12 ------------------------------------------------------

_SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")


def _pointer(doc: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    node: Any = doc
    for part in ref[1:].lstrip("/").split("/") if ref not in ("#", "#/") else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _declares_properties(doc: dict[str, Any], schema: Any, seen: frozenset[str] = frozenset()) -> bool:
    """Whether ``schema`` (following $refs and compositions) declares any property."""
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return False
        return _declares_properties(doc, _pointer(doc, ref), seen | {ref})
    if any(key in schema for key in ("properties", "patternProperties")):
        return True
    if isinstance(schema.get("additionalProperties"), (dict, bool)) and schema.get("type") == "object":
        return True  # an explicit map: its policy is respected, strictness adds nothing
    return any(
        _declares_properties(doc, member, seen) for key in ("allOf", "oneOf", "anyOf") for member in schema.get(key) or []
    )


def _convert(doc: dict[str, Any], schema: Any, standalone: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema and not str(doc.get("openapi", "")).startswith("3.1"):  # 3.0: siblings of $ref are ignored
        out: dict[str, Any] = {"$ref": schema["$ref"]}
    else:
        out = {}
        for key, value in schema.items():
            if key in ("properties", "patternProperties") and isinstance(value, dict):
                out[key] = {name: _convert(doc, sub, True) for name, sub in value.items()}
            elif key in _SUBSCHEMA and isinstance(value, dict):
                out[key] = _convert(doc, value, True)
            elif key == "allOf" and isinstance(value, list):
                out[key] = [_convert(doc, sub, False) for sub in value]
            elif key in ("oneOf", "anyOf") and isinstance(value, list):
                out[key] = [_convert(doc, sub, True) for sub in value]
            else:  # keywords (type, enum, required, ...) and annotations (example, x-...) as they are
                out[key] = value
        for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if out.get(bound) is True and limit in out:
                out[bound] = out.pop(limit)
            elif out.get(bound) is False:
                out.pop(bound)
    nullable = out.pop("nullable", False) is True
    # An explicit additionalProperties already decides on the other properties (false: the same finding twice).
    if standalone and "unevaluatedProperties" not in out and "additionalProperties" not in out and _declares_properties(doc, schema):
        out["unevaluatedProperties"] = False
    if nullable:
        if "type" in out:
            kind = out["type"]
            out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def _convert_openapi(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI 3.0 document whose schemas are JSON Schema 2020-12 (strict, see above)."""
    out = json.loads(json.dumps(doc))

    def media(container: dict[str, Any]) -> None:
        for item in (container.get("content") or {}).values():
            if isinstance(item, dict) and "schema" in item:
                item["schema"] = _convert(doc, item["schema"], True)
        for header in (container.get("headers") or {}).values():
            if isinstance(header, dict) and "schema" in header:
                header["schema"] = _convert(doc, header["schema"], True)

    def parameters(items: Iterable[Any]) -> None:
        for parameter in items:
            if isinstance(parameter, dict) and "schema" in parameter:
                parameter["schema"] = _convert(doc, parameter["schema"], True)

    for item in (out.get("paths") or {}).values():
        parameters(item.get("parameters") or [])
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            parameters(operation.get("parameters") or [])
            if isinstance(operation.get("requestBody"), dict):
                media(operation["requestBody"])
            for response in (operation.get("responses") or {}).values():
                if isinstance(response, dict):
                    media(response)
    components = out.get("components") or {}
    parameters((components.get("parameters") or {}).values())
    for group in ("requestBodies", "responses"):
        for item in (components.get(group) or {}).values():
            if isinstance(item, dict):
                media(item)
    for header in (components.get("headers") or {}).values():
        if isinstance(header, dict) and "schema" in header:
            header["schema"] = _convert(doc, header["schema"], True)
    schemas = components.get("schemas") or {}
    for name in list(schemas):
        schemas[name] = _convert(doc, doc["components"]["schemas"][name], False)
    return out


# --- operations -------------------------------------------------------------------------------------


@dataclass
class Operation:
    method: str
    template: str  # the spec's path, e.g. /users/{id}/contact_methods
    spec: dict[str, Any]
    prefix: str  # the path of the spec's `servers` URL, e.g. /api
    pointer: str  # JSON pointer of the operation in the converted document
    parameters: dict[tuple[str, str], tuple[dict[str, Any], str]] = field(default_factory=dict)
    regex: re.Pattern[str] | None = None

    @property
    def label(self) -> str:
        op_id = self.spec.get("operationId")
        return f"{self.method.upper()} {self.prefix}{self.template}" + (f" ({op_id})" if op_id else "")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _json_path(path: Iterable[Any]) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if re.fullmatch(r"[A-Za-z_][\w-]*", str(part)) else f"[{part!r}]")
    return text


_UNEXPECTED = re.compile(r"\((.+?) (?:was|were) unexpected\)")


def _unexpected(error: ValidationError) -> list[str]:
    match = _UNEXPECTED.search(error.message)
    return re.findall(r"'([^']*)'", match.group(1)) if match else []


def _discriminator_miss(error: ValidationError) -> bool:
    """A oneOf branch that failed on the object's `type`, or is of another JSON type (`null` for an object),
    is not the branch the object meant."""
    if error.validator == "type" and not list(error.relative_path):
        return True
    return error.validator in ("enum", "const") and list(error.relative_path) == ["type"]


def _leaves(errors: Iterable[ValidationError], known: frozenset[str] = frozenset()) -> list[tuple[list[Any], str]]:
    """(instance path, reason) of each error that says what is wrong, most telling first.

    oneOf/anyOf: the errors of the branch the instance meant (not failing on its ``type``, fewest
    errors). unevaluatedProperties: jsonschema drops the annotations of a failing subschema, so an
    object with another error reports all its fields as unevaluated; then only the names the spec
    declares nowhere (``known`` is every declared property name) are reported as undeclared.
    """
    found: list[tuple[list[Any], str, ValidationError]] = []
    for error in errors:
        if error.validator in ("oneOf", "anyOf") and error.context:
            branches: dict[Any, list[ValidationError]] = {}
            for sub in error.context:
                branches.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else 0, []).append(sub)
            meant = [errs for errs in branches.values() if not any(_discriminator_miss(e) for e in errs)] or list(branches.values())
            inner = _leaves(min(meant, key=len), known)
            note = f" (no {error.validator} branch matched)"
            found.extend((path, reason if reason.endswith(note) else reason + note, error) for path, reason in inner)
        else:
            found.append((list(error.absolute_path), error.message, error))
    # A failing subschema loses its annotations, so an object with any other error also reports its
    # declared fields as "unevaluated": that is noise, the other error is the finding.
    def spots(index: int) -> list[list[Any]]:
        path, _, error = found[index]
        if error.validator in ("unevaluatedProperties", "additionalProperties"):
            return [[*path, name] for name in _unexpected(error)] or [path]
        return [path]

    out: list[tuple[list[Any], str]] = []
    for index, (path, reason, error) in enumerate(found):
        if error.validator in ("unevaluatedProperties", "additionalProperties") and _unexpected(error):
            # (additionalProperties and unevaluatedProperties on the same object name the same fields: not "others")
            others = [spot for j in range(len(found)) if j != index and not (found[j][0] == path and found[j][2].validator in
                      ("unevaluatedProperties", "additionalProperties")) for spot in spots(j)]
            names = [n for n in _unexpected(error) if not any(o[: len(path) + 1] == [*path, n] for o in others)]
            if error.validator == "unevaluatedProperties" and any(o[: len(path)] == path for o in others):
                names = [n for n in names if n not in known]
            leaves = [([*path, n], f"`{n}` is not a field the spec declares here") for n in names]
        else:
            leaves = [(path, reason)]
        for leaf in leaves:
            if not any(done[0] == leaf[0] for done in out):
                out.append(leaf)
    return out


def _describe(error: ValidationError) -> tuple[str, str]:
    """(JSON path, reason) of the most telling part of one error."""
    leaves = _leaves([error])
    if not leaves:
        return _json_path(error.absolute_path), error.message
    path, reason = leaves[0]
    return _json_path(path), reason


class Contract:
    """One vendor contract: its operations and its schemas, validated with jsonschema."""

    def __init__(
        self, name: str, vendor: str, document: dict[str, Any], kind: str, formats: Mapping[str, Callable[[str], Any]] | None = None
    ) -> None:
        self.name = name
        self.vendor = vendor
        self.kind = kind
        self.formats = dict(formats or {})  # format -> check of a string we send (see the module doc)
        self.uri = f"urn:contract:{name}"
        if kind == "openapi":
            self.raw = document
            self.document = _convert_openapi(document)
            servers = document.get("servers") or [{"url": ""}]
            self.prefix = urlparse(servers[0].get("url", "")).path.rstrip("/")
            self.operations = self._operations()
        else:  # one JSON Schema: GET /api/v2/summary.json
            self.raw = document
            self.document = document
            self.prefix = ""
            self.operations = [
                Operation(
                    method="get", template=document.get("x-path", "/api/v2/summary.json"), spec={}, prefix="", pointer="",
                    regex=re.compile(re.escape(document.get("x-path", "/api/v2/summary.json")) + r"\Z"),
                )
            ]
        self.known = frozenset(_property_names(self.document))
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self.registry: Registry = Registry().with_resource(self.uri, resource)
        self._validators: dict[str, Draft202012Validator] = {}
        self._request_validator = validators.extend(RequestValidator, {"format": self._format}) if self.formats else RequestValidator

    # -- loading

    @classmethod
    def load(cls, name: str) -> "Contract":
        """The named contract (``ilert``, ``pagerduty-rest``, ``pagerduty-events``, ``statuspage``, ``openai``); cached."""
        return _load(name)

    def __repr__(self) -> str:
        return f"Contract({self.name!r})"

    def _operations(self) -> list[Operation]:
        operations: list[Operation] = []
        for template, item in (self.document.get("paths") or {}).items():
            item_pointer = f"/paths/{_escape(template)}"
            shared = self._parameters(item.get("parameters") or [], item_pointer)
            regex = re.compile(
                "".join("([^/]+)" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", template) if part)
                + r"\Z"
            )
            for method in METHODS:
                spec = item.get(method)
                if not isinstance(spec, dict):
                    continue
                pointer = f"{item_pointer}/{method}"
                params = {**shared, **self._parameters(spec.get("parameters") or [], pointer)}
                operations.append(Operation(method, template, spec, self.prefix, pointer, params, regex))
        # Literal paths before templated ones (/status-pages before /status-pages/{id}), fewer parameters first.
        operations.sort(key=lambda op: op.template.count("{"))
        return operations

    def _parameters(self, items: list[Any], pointer: str) -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
        """(in, name) -> (the parameter, JSON pointer of its schema)."""
        found: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        for index, item in enumerate(items):
            where = f"{pointer}/parameters/{index}"
            while isinstance(item, dict) and "$ref" in item:
                where = item["$ref"][1:]
                item = _pointer(self.document, item["$ref"])
            found[(item.get("in"), item.get("name"))] = (item, f"{where}/schema")
        return found

    def _deref(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            node = _pointer(self.document, node["$ref"])
            seen += 1
            if seen > 20:
                raise ValueError("$ref loop")
        return node

    def _format(self, validator: Any, fmt: Any, instance: Any, schema: dict[str, Any]) -> Iterable[ValidationError]:
        """``format`` in requests: the contract's own check of that format, else jsonschema's."""
        check = self.formats.get(fmt)
        if check is None:
            yield from Draft202012Validator.VALIDATORS["format"](validator, fmt, instance, schema)
        elif isinstance(instance, str):
            try:
                check(instance)
            except (ValueError, AssertionError) as exc:
                yield ValidationError(str(exc) or f"{instance!r} is not a {fmt!r}")

    def _validator(self, pointer: str, strict_root: bool = False, request: bool = False) -> Draft202012Validator:
        key = f"{pointer}|{strict_root}|{request}"
        validator = self._validators.get(key)
        if validator is None:
            schema: dict[str, Any] = {"$ref": f"{self.uri}#{pointer}"}
            if strict_root:
                schema["unevaluatedProperties"] = False
            kind = self._request_validator if request else Draft202012Validator
            validator = kind(schema, registry=self.registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
            self._validators[key] = validator
        return validator

    def _fail(self, operation: str, where: str, path: str, reason: str) -> None:
        raise ContractViolation(f"{self.vendor} {operation}: {where} {path}: {reason}")

    def _validate(self, validator: Draft202012Validator, instance: Any, operation: str, where: str) -> None:
        errors = list(validator.iter_errors(instance))
        if not errors:
            return
        leaves = _leaves(errors, self.known) or [(list(errors[0].absolute_path), errors[0].message)]
        path, reason = leaves[0]
        others = "; ".join(f"{_json_path(p)}: {r}" for p, r in leaves[1:4])
        more = len(leaves) - 4
        if others:
            reason += f" (also {others}" + (f"; and {more} more" if more > 0 else "") + ")"
        self._fail(operation, where, _json_path(path), reason)

    # -- operations

    def operation(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        """The declared operation a concrete URL path belongs to, and its path parameters.

        ``path`` may carry a base path before the spec's ``servers`` prefix (a gateway, a page's own
        path); the operation must match the rest exactly.
        """
        method = method.lower()
        path = urlparse(path).path if "://" in path else path.split("?", 1)[0]
        candidates = []
        starts = [m.start() for m in re.finditer("/", path)] or [0]
        for start in starts:
            rest = path[start:]
            if self.prefix:
                if not (rest == self.prefix or rest.startswith(self.prefix + "/")):
                    continue
                rest = rest[len(self.prefix):]
            candidates.append(rest)
        known = []
        for rest in candidates:
            for operation in self.operations:
                match = operation.regex.match(rest) if operation.regex else None
                if not match:
                    continue
                known.append(operation)
                if operation.method == method:
                    return operation, dict(zip(re.findall(r"\{([^}]+)\}", operation.template), match.groups()))
        if known:
            allowed = sorted({op.method.upper() for op in known})
            raise ContractViolation(
                f"{self.vendor} {method.upper()} {path}: the spec declares {', '.join(allowed)} for "
                f"{self.prefix}{known[0].template}, not {method.upper()}"
            )
        declared = ", ".join(sorted({self.prefix + op.template for op in self.operations}))
        raise ContractViolation(f"{self.vendor} {method.upper()} {path}: no such operation in the spec (declared: {declared})")

    # -- requests

    def check_request(self, request: httpx.Request) -> Any:
        """Path, query parameters and body (JSON or a form) of a request we sent, against the spec.

        Returns the body as the instance that was validated (a form as its object), ``None`` when
        there is none or its media type is not read.
        """
        operation, path_params = self.operation(request.method, request.url.path)
        label = operation.label
        declared = operation.parameters
        for name, value in path_params.items():
            if ("path", name) in declared:
                self._check_value(operation, declared[("path", name)], [value], f"path parameter `{name}`")
        query: dict[str, list[str]] = {}
        for name, value in request.url.params.multi_items():
            query.setdefault(name, []).append(value)
        for name, values in query.items():
            parameter = declared.get(("query", name))
            if parameter is None:
                allowed = sorted(n for (where, n) in declared if where == "query")
                self._fail(label, "query parameter", f"`{name}`", "not declared for this operation (declared: " + (", ".join(allowed) or "none") + ")")
            if parameter[0].get("deprecated") is True:
                self._fail(label, "query parameter", f"`{name}`", "deprecated by the spec, do not send it" + _deprecation_note(parameter[0]))
            self._check_value(operation, parameter, values, f"query parameter `{name}`")
        for (where, name), (parameter, _) in declared.items():
            if where == "query" and parameter.get("required") and name not in query:
                self._fail(label, "query parameter", f"`{name}`", "required by the spec but not sent")
        return self._check_body(operation, request)

    def _check_value(self, operation: Operation, declared: tuple[dict[str, Any], str], values: list[str], what: str) -> None:
        parameter, pointer = declared
        schema = self._deref(parameter.get("schema") or {})
        kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
        if "array" in kinds:
            if parameter.get("explode", parameter.get("in") != "path") is False:
                values = [part for value in values for part in value.split(",")]
            items = self._deref(schema.get("items") or {})
            self._check_param(operation, pointer, [_coerce(items, value) for value in values], what)
            return
        if len(values) > 1 and not str(parameter.get("name", "")).endswith("[]"):
            # PagerDuty's `statuses[]` is a string schema documented as "pass it more than once".
            self._fail(operation.label, what, f"= {values!r}", "sent more than once but its schema is not an array")
        for value in values:
            self._check_param(operation, pointer, _coerce(schema, value), what)

    def _check_param(self, operation: Operation, pointer: str, instance: Any, what: str) -> None:
        errors = list(self._validator(pointer, request=True).iter_errors(instance))
        if errors:
            _, reason = _describe(errors[0])
            self._fail(operation.label, what, f"= {instance!r}", reason)

    def _check_body(self, operation: Operation, request: httpx.Request) -> Any:
        label = operation.label
        body = operation.spec.get("requestBody")
        body = self._deref(body) if body else None
        content = request.content if request.stream is not None else b""
        if not content:
            if body and body.get("required"):
                self._fail(label, "request body", "$", "required by the spec but none was sent")
            return None
        if not body:
            self._fail(label, "request body", "$", "the operation declares no request body")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        media = body.get("content") or {}
        if ctype not in media:
            self._fail(label, "request body", "$", f"content type {ctype or 'none'!r} is not declared (declared: {', '.join(media)})")
        ref = operation.spec["requestBody"].get("$ref")
        pointer = f"{ref[1:] if ref else f'{operation.pointer}/requestBody'}/content/{_escape(ctype)}/schema"
        if ctype in FORMS:
            instance: Any = self._form_fields(operation, pointer, request.headers.get("content-type", ""), content)
            where = f"request body ({ctype})"
        elif "json" in ctype:
            try:
                instance = json.loads(content)
            except ValueError:
                self._fail(label, "request body", "$", "not valid JSON")
            where = "request body"
        else:  # other media types are not read
            return None
        self._validate(self._validator(pointer, request=True), instance, label, where)
        return instance

    def _form_fields(self, operation: Operation, pointer: str, content_type: str, content: bytes) -> dict[str, Any]:
        """A form body (``multipart/form-data`` or ``application/x-www-form-urlencoded``) as the JSON object
        its schema describes.

        Each field is the property of its name; ``name[]`` (how OpenAI's own examples send arrays) and a
        repeated name make an array, which the property's schema must be. A file part is its file name
        (a string, as ``format: binary`` is). Text values are typed as the property's schema types them.
        """
        ctype = content_type.split(";")[0].strip().lower()
        where = f"request body ({ctype})"
        fields: dict[str, list[tuple[bool, str]]] = {}  # name -> (is a file, value) per field, in order
        if ctype == "multipart/form-data":
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + content
            )
            if not message.is_multipart():
                self._fail(operation.label, where, "$", "not a multipart body")
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not name:
                    self._fail(operation.label, where, "$", "a part without a name")
                filename = part.get_filename()
                value = filename if filename is not None else part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
                fields.setdefault(str(name), []).append((filename is not None, value))
        else:
            try:
                pairs = parse_qsl(content.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
            except ValueError as exc:  # UnicodeDecodeError is one
                self._fail(operation.label, where, "$", f"not a urlencoded form ({exc})")
            for name, value in pairs:
                fields.setdefault(name, []).append((False, value))
        schema = self._deref(_pointer(self.document, "#" + pointer))
        properties: dict[str, Any] = {}
        for member in [schema, *(self._deref(m) for m in schema.get("allOf") or [])]:
            properties.update(member.get("properties") or {})
        instance: dict[str, Any] = {}
        for name, values in fields.items():
            key = name[:-2] if name.endswith("[]") and name[:-2] in properties else name
            prop = self._deref(properties.get(key) or {})
            if "array" in _kinds(self, prop):
                items = self._deref(prop.get("items") or {})
                instance.setdefault(key, []).extend(v if is_file else _coerce_any(self, items, v) for is_file, v in values)
                continue
            if len(values) > 1 or key != name:
                how = f"sent as `{name}`" if key != name else "sent more than once"
                self._fail(operation.label, where, f"$.{key}", f"{how} but its schema is not an array")
            is_file, value = values[0]
            instance[key] = value if is_file else _coerce_any(self, prop, value)
        return instance

    # -- responses

    def check_response(self, method: str, path: str, body: Any, status: int = 200) -> None:
        """A response body (a fixture) against the spec's schema for that status."""
        operation, _ = self.operation(method, path)
        label = operation.label
        if self.kind != "openapi":
            if status != 200:
                self._fail(label, f"response {status}", "$", "only the documented 200 answer has a schema")
            self._validate(self._validator(""), body, label, f"response {status}")
            return
        responses = operation.spec.get("responses") or {}
        key = next((k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None)
        if key is None:
            self._fail(label, f"response {status}", "$", f"status {status} is not declared (declared: {', '.join(responses)})")
        response = responses[key]
        ref = response.get("$ref") if isinstance(response, dict) else None
        base = ref[1:] if ref else f"{operation.pointer}/responses/{_escape(key)}"
        response = self._deref(response)
        content = response.get("content") or {}
        if not content:
            if body not in (None, b"", ""):
                self._fail(label, f"response {status}", "$", "the spec declares no body for this answer")
            return
        ctype = "application/json" if "application/json" in content else next(iter(content))
        if "schema" not in content[ctype]:
            return
        self._validate(self._validator(f"{base}/content/{_escape(ctype)}/schema"), body, label, f"response {status}")

    # -- components

    def schema_check(self, component: str, instance: Any) -> None:
        """``instance`` against one component schema (OpenAPI ``components/schemas``; Statuspage ``$defs``)."""
        if self.kind == "openapi":
            schemas = self.document.get("components", {}).get("schemas", {})
            pointer = f"/components/schemas/{_escape(component)}"
        else:
            schemas = self.document.get("$defs", {})
            pointer = f"/$defs/{_escape(component)}"
        if component not in schemas:
            raise ContractViolation(f"{self.vendor}: no schema `{component}` in the contract (known: {', '.join(sorted(schemas))})")
        strict = _declares_properties(self.document, schemas[component])
        self._validate(self._validator(pointer, strict_root=strict), instance, f"schema {component}", "instance")


def _deprecated(validator: Any, deprecated: Any, instance: Any, schema: dict[str, Any]) -> Iterable[ValidationError]:
    """``deprecated: true`` as an assertion (what we send): the spec's own words on it when it has some."""
    if deprecated is True:
        yield ValidationError("deprecated by the spec, do not send it" + _deprecation_note(schema))


def _deprecation_note(item: dict[str, Any]) -> str:
    """The sentence of a description that says what replaces a deprecated field (markdown links as text)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(str(item.get("description") or "").split()))
    sentence = next((s for s in re.split(r"(?<=\.)\s+", text) if "deprecat" in s.lower()), "")
    return f" ({sentence.strip()})" if sentence else ""


# Requests: ``deprecated`` asserts (see the module doc); answers: it stays an annotation.
RequestValidator = validators.extend(Draft202012Validator, {"deprecated": _deprecated})


def _property_names(node: Any) -> set[str]:
    names: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("properties"), dict):
                names.update(item["properties"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return names


def _coerce(schema: dict[str, Any], value: str) -> Any:
    """A query/path string as the JSON value its schema types (left a string when it does not parse)."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "integer" in kinds and re.fullmatch(r"-?\d+", value):
        return int(value)
    if "number" in kinds and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value):
        return float(value) if re.search(r"[.eE]", value) else int(value)
    if "boolean" in kinds and value in ("true", "false"):
        return value == "true"
    return value


def _kinds(contract: Contract, schema: dict[str, Any]) -> list[Any]:
    """The JSON types a schema allows, its anyOf/oneOf branches included (``[None]`` when it does not say)."""
    kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
    for branch in [*(schema.get("anyOf") or []), *(schema.get("oneOf") or [])]:
        kinds = [*kinds, *_kinds(contract, contract._deref(branch))]
    return [k for k in kinds if k is not None] or [None]


def _coerce_any(contract: Contract, schema: dict[str, Any], value: str) -> Any:
    """A form field's text as the JSON value its schema (or one of its branches) types; text when it may be text."""
    kinds = _kinds(contract, schema)
    if "string" in kinds or kinds == [None]:
        return value
    if "null" in kinds and value == "null":
        return None
    return _coerce({"type": kinds}, value)


@lru_cache(maxsize=None)
def _load(name: str) -> Contract:
    if name not in CONTRACTS:
        raise KeyError(f"no contract {name!r} (known: {', '.join(CONTRACTS)})")
    file, vendor, kind = CONTRACTS[name]
    document = json.loads((HERE / file).read_text(encoding="utf-8"))
    return Contract(name, vendor, document, kind)


# --- respx ------------------------------------------------------------------------------------------


def contract_route(
    mock: Any,
    contract: Contract | str,
    method: str,
    path: str,
    *,
    json: Any = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    name: str | None = None,
    check_body: bool = True,
) -> Any:
    """A respx route answering ``json`` that holds both sides to the vendor's contract.

    The answer is checked against the response schema now (a fixture that is not a spec instance
    fails here). Every request that reaches the route is checked with :meth:`Contract.check_request`;
    a violation is recorded (the test fails at teardown even when the plugin swallows exceptions)
    and raised into the caller. ``json`` may be a callable ``(request) -> body`` for answers that
    depend on the request; each such body is checked when it is produced. ``check_body=False``
    serves a deliberately off-contract answer (robustness tests) while still checking requests.
    """
    contract = Contract.load(contract) if isinstance(contract, str) else contract
    if check_body and not callable(json):
        contract.check_response(method, path, json, status)

    def answer(request: httpx.Request) -> httpx.Response:
        try:
            contract.check_request(request)
            body = json(request) if callable(json) else json
            if check_body and callable(json):
                contract.check_response(request.method, request.url.path, body, status)
        except ContractViolation as violation:
            RECORDED.append(violation)
            raise
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    kwargs = {"name": name} if name else {}
    return mock.route(method=method.upper(), url=path, **kwargs).mock(side_effect=answer)


def checked(contract: Contract | str, respond: Callable[[httpx.Request], httpx.Response]) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect that checks each request against ``contract`` before ``respond`` answers it."""
    contract = Contract.load(contract) if isinstance(contract, str) else contract

    def side_effect(request: httpx.Request) -> httpx.Response:
        try:
            contract.check_request(request)
        except ContractViolation as violation:
            RECORDED.append(violation)
            raise
        return respond(request)

    return side_effect
