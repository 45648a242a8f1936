"""TwiML (Twilio voice) against what Twilio publishes: its helper library's TwiML grammar and its documented limits.

Two sources, both written down:

* the grammar is what the installed ``twilio`` package's ``twilio.twiml.voice_response`` classes can
  produce (``TWILIO_VERSION``): which verb or noun may sit inside which, which attributes each takes
  (the method's named parameters, in the camelCase Twilio documents and the library writes:
  ``status_callback`` -> ``statusCallback``) and whether it carries text. Read from the classes
  themselves (each nesting method is called once on a fresh element), so it follows the library;
  an attribute passed only through ``**kwargs`` is not part of it;
* the limits are ``tests/contracts/twilio/limits.yaml`` (each with its twilio.com source): ``<Say>``
  text length by voice and URL-encoded, ``Twiml=`` at most 4,000 characters when TwiML is sent as a
  REST parameter (error 32018), ``<Stream url>`` a ``wss://`` URL without a query string, the values of
  ``method`` and ``<Gather>`` attributes, URL attributes that are URLs. Limits the file says are
  ``not documented`` are not checked.

Usage::

    check_twiml(xml_text)                          # a document a webhook served
    check_twiml(xml_text, as_rest_parameter=True)  # TwiML sent as the REST `Twiml` parameter
    check_webhook_form(form)                        # what the fake Twilio POSTs to our webhooks

and the fixture :func:`twiml_checked` (autouse where imported, or suite-wide when this module is listed
in ``pytest_plugins``): every TwiML document the fake Twilio (``TwimlInterpreter``) receives from the
server is checked, and every form it posts must use documented parameter names.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import pytest
import twilio
from ruamel.yaml import YAML
from twilio.twiml import TwiML, lower_camel
from twilio.twiml import voice_response

from tests.contracts.checker import RECORDED, ContractViolation

HERE = Path(__file__).resolve().parent
TWILIO_VERSION = twilio.__version__
VENDOR = f"Twilio TwiML (twilio {TWILIO_VERSION} voice_response + twilio/limits.yaml)"
NOT_DOCUMENTED = "not documented"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

__all__ = [
    "LIMITS",
    "TWILIO_VERSION",
    "ContractViolation",
    "check_twiml",
    "check_webhook_form",
    "grammar",
    "twiml_checked",
]


@lru_cache(maxsize=None)
def _limits() -> dict[str, Any]:
    return YAML(typ="safe").load((HERE / "twilio" / "limits.yaml").read_text(encoding="utf-8"))


LIMITS = _limits()


# --- the grammar of twilio.twiml.voice_response ---------------------------------------------------------


@dataclass(frozen=True)
class Child:
    """One element a parent may nest: its class, the attributes it takes, whether it carries text."""

    cls: type[TwiML]
    attributes: frozenset[str]
    text: bool


def _dummy_args(function: Any) -> list[str]:
    params = list(inspect.signature(function).parameters.values())[1:]
    return ["x" for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _text_params(cls: type[TwiML]) -> set[str]:
    """The constructor parameters that become the element's text (``Say(message)``, ``Number(phone_number)``)."""
    return {
        name for name, p in list(inspect.signature(cls.__init__).parameters.items())[1:]
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


@lru_cache(maxsize=None)
def grammar() -> dict[type[TwiML], dict[str, Child]]:
    """parent class -> {child tag: Child}, read from the library's nesting methods."""
    base = set(dir(TwiML))
    table: dict[type[TwiML], dict[str, Child]] = {}
    for _, cls in inspect.getmembers(voice_response, inspect.isclass):
        if not issubclass(cls, TwiML) or cls.__module__ != voice_response.__name__:
            continue
        parent = cls(*_dummy_args(cls.__init__))
        children: dict[str, Child] = {}
        for name, method in vars(cls).items():
            if name.startswith("_") or name in base or not callable(method):
                continue
            child = method(parent, *_dummy_args(method))
            if not isinstance(child, TwiML):
                continue
            text = _text_params(type(child))
            attributes = frozenset(
                lower_camel(TwiML.MAP.get(p, p))
                for p, spec in list(inspect.signature(method).parameters.items())[1:]
                if spec.kind not in (spec.VAR_KEYWORD, spec.VAR_POSITIONAL) and p not in text
            )
            previous = children.get(child.name)
            if previous is not None:  # two methods making the same tag: either's attributes are fine
                attributes |= previous.attributes
            children[child.name] = Child(type(child), attributes, bool(text))
        table[cls] = children
    return table


ROOT = voice_response.VoiceResponse


# --- checks -------------------------------------------------------------------------------------------


def _fail(where: str, path: str, reason: str) -> None:
    raise ContractViolation(f"{VENDOR}{' ' + where if where else ''}: {path}: {reason}")


def _is_url_attribute(name: str) -> bool:
    return name in ("url", "action") or name.endswith(("Callback", "Url", "CallbackUrl"))


def _check_url(value: str, where: str, path: str, *, schemes: tuple[str, ...] = ("http", "https")) -> None:
    text = value.strip()
    if not text or any(c.isspace() for c in text):
        _fail(where, path, f"{value!r} is not a URL")
    parts = urlsplit(text)
    if schemes == ("wss",) and parts.scheme == "ws" and parts.hostname in LOOPBACK:
        schemes = ("ws",)  # the tests' loopback server has no TLS (and Twilio could never reach it anyway)
    if parts.scheme:
        if parts.scheme not in schemes or not parts.netloc:
            _fail(where, path, f"{value!r}: an absolute URL must be {'/'.join(s + '://' for s in schemes)} with a host")
    elif schemes in (("wss",), ("ws",)):
        _fail(where, path, f"{value!r}: must be an absolute wss:// URL")
    limit = _limits()["twiml"]["url_attribute_max_chars"]
    if limit != NOT_DOCUMENTED and len(text) > int(limit):
        _fail(where, path, f"URL of {len(text)} characters is over the documented {limit}")


def _say_limit(voice: str | None) -> tuple[str, int]:
    limits = _limits()["twiml"]["say"]["max_chars"]
    if voice and voice.startswith("Polly."):
        return "polly", int(limits["polly"])
    if voice and voice.startswith("Google."):
        return "google", int(limits["google"])
    return "basic", int(limits["basic"])


def _check_say(element: ElementTree.Element, where: str, path: str) -> None:
    say = _limits()["twiml"]["say"]
    kind, limit = _say_limit(element.get("voice"))
    if kind == "google":  # SSML tags, newlines and spaces count
        inner = (element.text or "") + "".join(ElementTree.tostring(child, encoding="unicode") for child in element)
        counted = inner
    else:  # SSML tags do not count
        counted = "".join(element.itertext())
    if len(counted.encode("utf-8")) > limit:
        _fail(where, path, f"<Say> text of {len(counted.encode('utf-8'))} bytes is over the {limit} of {kind} voices "
              f"(warning {say['warning_code']}, {say['source']})")
    encoded = quote("".join(element.itertext()), safe="")
    if len(encoded) > int(say["url_encoded_max_chars"]):
        _fail(where, path, f"<Say> text URL-encoded is {len(encoded)} characters, over the {say['url_encoded_max_chars']} "
              f"(warning {say['warning_code']}, {say['source']})")


def _check_values(element: ElementTree.Element, where: str, path: str) -> None:
    twiml = _limits()["twiml"]
    methods = twiml["method_attribute_values"]["values"]
    for name, value in element.attrib.items():
        if (name == "method" or name.endswith("Method")) and value not in methods:
            _fail(where, f"{path}@{name}", f"{value!r} is not one of {methods} ({twiml['method_attribute_values']['source']})")
    if element.tag == "Gather":
        for name, allowed in twiml["gather"]["attribute_values"].items():
            value = element.get(name)
            if value is None:
                continue
            if isinstance(allowed, dict):  # a space-separated list of these values
                tokens = value.split()
                if not tokens or len(set(tokens)) != len(tokens) or not set(tokens) <= set(allowed["tokens"]):
                    _fail(where, f"{path}@{name}", f"{value!r} is not a space-separated list of {allowed['tokens']} "
                          f"({twiml['gather']['source']})")
            elif value not in allowed:
                _fail(where, f"{path}@{name}", f"{value!r} is not one of {allowed} ({twiml['gather']['source']})")


def _check_element(element: ElementTree.Element, cls: type[TwiML], child: Child | None, where: str, path: str) -> None:
    if child is not None:
        for name, value in element.attrib.items():
            if name not in child.attributes:
                allowed = ", ".join(sorted(child.attributes)) or "none"
                _fail(where, f"{path}@{name}", f"<{element.tag}> takes no attribute `{name}` in twilio {TWILIO_VERSION} (takes: {allowed})")
            if _is_url_attribute(name):
                schemes = ("wss",) if element.tag == "Stream" and name == "url" else ("http", "https")
                _check_url(value, where, f"{path}@{name}", schemes=schemes)
        if (element.text or "").strip() and not child.text:
            _fail(where, path, f"<{element.tag}> carries no text in twilio {TWILIO_VERSION}, got {element.text.strip()[:60]!r}")
    elif element.attrib:
        _fail(where, path, f"<{element.tag}> takes no attributes, got {sorted(element.attrib)}")
    _check_values(element, where, path)
    if element.tag == "Say":
        _check_say(element, where, path)
    if element.tag in ("Redirect", "Play") and (element.text or "").strip():
        _check_url(element.text or "", where, f"{path}/text()")
    if element.tag == "Stream":
        stream = _limits()["twiml"]["stream"]
        url = element.get("url")
        if url is None:
            _fail(where, path, "<Stream> needs a url")
        if stream["url_query_string"] == "forbidden" and urlsplit(url).query:
            _fail(where, f"{path}@url", f"{url!r}: a Stream URL may not carry a query string; use <Parameter> ({stream['source']})")
    allowed_children = grammar().get(cls, {})
    counts: dict[str, int] = {}
    for sub in element:
        index = counts.get(sub.tag, 0)
        counts[sub.tag] = index + 1
        sub_path = f"{path}/{sub.tag}[{index}]"
        spec = allowed_children.get(sub.tag)
        if spec is None:
            allowed = ", ".join(f"<{t}>" for t in sorted(allowed_children)) or "nothing"
            _fail(where, sub_path, f"<{sub.tag}> cannot be inside <{element.tag}> in twilio {TWILIO_VERSION} (allowed: {allowed})")
        _check_element(sub, spec.cls, spec, where, sub_path)


def check_twiml(document: str | bytes, *, as_rest_parameter: bool = False, where: str = "") -> ElementTree.Element:
    """A TwiML document against the library's grammar and the documented limits; returns its root."""
    text = document.decode("utf-8") if isinstance(document, bytes) else document
    if as_rest_parameter:
        rest = _limits()["rest"]["twiml_parameter"]
        if len(text) > int(rest["max_chars"]):
            _fail(where, "Twiml", f"{len(text)} characters as the REST `Twiml` parameter, over the {rest['max_chars']} "
                  f"(error {rest['error_code']}, {rest['source']})")
    try:
        root = ElementTree.fromstring(text.encode("utf-8"))
    except ElementTree.ParseError as exc:
        _fail(where, "$", f"not well-formed XML: {exc}")
    if root.tag != "Response":
        _fail(where, f"/{root.tag}", "the root element must be <Response>")
    _check_element(root, ROOT, None, where, "/Response")
    return root


@lru_cache(maxsize=None)
def _webhook_parameters() -> frozenset[str]:
    hooks = _limits()["webhooks"]
    return frozenset(name for group in hooks.values() for name in group["parameters"])


def check_webhook_form(form: dict[str, str], *, where: str = "") -> None:
    """A form the fake Twilio POSTs to our webhooks uses only parameter names Twilio documents (limits.yaml)."""
    known = _webhook_parameters()
    unknown = sorted(set(form) - known)
    if unknown:
        _fail(where, "form", f"Twilio documents no webhook parameter {', '.join(unknown)} (webhooks in twilio/limits.yaml)")
    hooks = _limits()["webhooks"]
    checks = {
        "CallStatus": hooks["voice"]["call_status_values"],
        "Direction": hooks["voice"]["direction_values"],
        "DialCallStatus": hooks["dial_action"]["dial_call_status_values"],
    }
    for name, allowed in checks.items():
        if name in form and form[name] not in allowed:
            _fail(where, f"form.{name}", f"{form[name]!r} is not one of {allowed}")


# --- the hook: every TwiML the fake Twilio is served ---------------------------------------------------


def _record(violation: ContractViolation) -> None:
    RECORDED.append(violation)


@pytest.fixture(autouse=True)
def twiml_checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Check every TwiML document the server serves to ``TwimlInterpreter`` and every form it posts.

    A violation is raised where the fake Twilio reads the document (the test fails there) and recorded
    in ``checker.RECORDED`` (the contract plugin fails a test that swallowed it). Yields the documents
    seen.
    """
    from agent.testing.twiml_interpreter import TwimlInterpreter

    seen: list[str] = []
    original = TwimlInterpreter.post

    async def post(self: TwimlInterpreter, url: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
        try:
            check_webhook_form(form, where=f"POST {url}")
        except ContractViolation as violation:
            _record(violation)
            raise
        response = await original(self, url, form)
        ctype = response.headers.get("content-type", "")
        body = response.text
        if response.status_code == 200 and ("xml" in ctype or body.lstrip().startswith("<")):
            seen.append(body)
            try:
                check_twiml(body, where=f"served at {url}")
            except ContractViolation as violation:
                _record(violation)
                raise
        return response

    monkeypatch.setattr(TwimlInterpreter, "post", post)
    return seen
