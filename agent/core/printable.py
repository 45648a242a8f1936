"""Text that may be spoken in TwiML: XML 1.0 forbids control characters, so callers' and models' text loses them.

Applied where text enters: Twilio's webhook forms, tool-call arguments, and
the state a continuation token carries.
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def printable(value: Any) -> Any:
    """``value`` (text, or lists and mappings of it) without control characters."""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable(v) for v in value]
    return value
