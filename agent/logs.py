"""Logging set-up: one loguru sink, caller data redacted unless configured otherwise."""

from __future__ import annotations

import re
import sys

from loguru import logger

_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s().\-]{6,}\d(?!\w)")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_known_pii: set[str] = set()


def remember_pii(*values: object) -> None:
    """Values (e.g. a caller's name) to mask in every later log line of this process."""
    for value in values:
        if isinstance(value, str) and len(value) >= 3:
            _known_pii.add(value)


def forget_pii(*values: object) -> None:
    for value in values:
        _known_pii.discard(value)  # type: ignore[arg-type]


def redact(text: str) -> str:
    """Mask phone numbers, e-mail addresses and remembered caller values."""
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub("[phone]", text)
    for value in _known_pii:
        text = text.replace(value, "[redacted]")
    return text


def _redacting_filter(record: dict) -> bool:
    record["message"] = redact(record["message"])
    return True


def setup_logging(level: str = "WARNING", *, keep_pii: bool = False) -> None:
    """Replace loguru's default sink (Pipecat logs DEBUG there) with ours."""
    logger.remove()
    logger.add(
        sys.stderr,
        level=level.upper(),
        filter=None if keep_pii else _redacting_filter,
        format="<dim>{time:HH:mm:ss}</dim> {level: <7} {name}: {message}",
    )
