"""Logging set-up: one loguru sink, caller data redacted unless configured otherwise.

With redaction on (the default; ``log_pii`` keeps everything):

- phone numbers, e-mail addresses (written or spoken: "jane dot doe at acme
  dot com") and remembered caller values (names, see :func:`remember_pii`)
  are masked in the whole formatted line, exception traces included;
- what was *said* on a call (log records bound with ``conversation=True``, and
  every line of the transcript keeper) is reduced to who spoke and how much:
  a caller's description of their problem is caller data too;
- tracebacks never show local variable values (loguru's ``diagnose``), with
  or without redaction: they can hold caller data and secrets.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections import OrderedDict
from collections.abc import Callable
from json import dumps as json_dumps
from typing import TextIO

from loguru import logger

_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s().\-]{6,}\d(?!\w)")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_SPOKEN_EMAIL = re.compile(r"\b[\w\-]+(?: dot [\w\-]+)* at [\w\-]+(?: dot [\w\-]+)+\b", re.IGNORECASE)
_NOT_A_PHONE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?")  # IPv4 addresses, dates
MAX_REMEMBERED = 5000  # a long-running server forgets the oldest values first
_known_pii: OrderedDict[str, None] = OrderedDict()
CONVERSATION_LOGGERS = ("agent.media.processors.transcript_keeper",)  # modules whose every line is what someone said
FORMAT = "<dim>{time:HH:mm:ss}</dim> {level: <7} {name}: {message}"


def remember_pii(*values: object) -> None:
    """Values (e.g. a caller's name) to mask in every later log line of this process."""
    for value in values:
        if isinstance(value, str) and len(value) >= 3:
            _known_pii.pop(value, None)
            _known_pii[value] = None
    while len(_known_pii) > MAX_REMEMBERED:
        _known_pii.popitem(last=False)


def forget_pii(*values: object) -> None:
    for value in values:
        _known_pii.pop(value, None)  # type: ignore[call-overload]


def _phone_or_not(match: re.Match[str]) -> str:
    return match.group() if _NOT_A_PHONE.fullmatch(match.group().strip()) else "[phone]"


def redact(text: str) -> str:
    """Mask phone numbers, e-mail addresses and remembered caller values."""
    text = _EMAIL.sub("[email]", text)
    text = _SPOKEN_EMAIL.sub("[email]", text)
    text = _PHONE.sub(_phone_or_not, text)
    for value in sorted(_known_pii, key=len, reverse=True):  # "Jane Doe" before "Jane"
        text = text.replace(value, "[redacted]")
    return text


def _conversation(record: dict) -> bool:
    return bool(record["extra"].get("conversation")) or record["name"] in CONVERSATION_LOGGERS


def _redacting_filter(record: dict) -> bool:
    if _conversation(record):
        head, sep, said = record["message"].partition(": ")
        record["message"] = f"{head}: [{len(said)} characters said]" if sep else f"[{len(head)} characters said]"
    return True


class _RedactingStream:
    """A text stream that redacts each formatted line (message and exception trace) before writing it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> None:
        self._stream.write(redact(text))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())


def setup_logging(level: str = "WARNING", *, keep_pii: bool = False, json: bool = False) -> None:
    """Replace loguru's default sink (Pipecat logs DEBUG there) with ours.

    ``json``: one JSON object a line (``time``, ``level``, ``logger``,
    ``message`` and a call event's ``call_id``, ``event`` and fields), for a
    log pipeline to index; its text values are redacted the same way.
    """
    logger.remove()
    logger.add(
        sys.stderr if keep_pii or json else _RedactingStream(sys.stderr),
        level=level.upper(),
        filter=None if keep_pii else _redacting_filter,
        format=_json_format(keep_pii) if json else FORMAT,
        diagnose=False,
        colorize=sys.stderr.isatty() and not json,
    )


def _json_format(keep_pii: bool) -> Callable[[dict], str]:
    clean = (lambda v: v) if keep_pii else (lambda v: redact(v) if isinstance(v, str) else v)

    def line(record: dict) -> str:
        payload = {
            "time": record["time"].isoformat(), "level": record["level"].name, "logger": record["name"],
            "message": clean(record["message"]), **{k: clean(v) for k, v in record["extra"].items() if k != "_json"},
        }
        if record["exception"] is not None:
            payload["exception"] = clean("".join(traceback.format_exception(*record["exception"])))
        record["extra"]["_json"] = json_dumps(payload, default=str)
        return "{extra[_json]}\n"

    return line
