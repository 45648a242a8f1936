"""X-Twilio-Signature on every webhook and on the media WebSocket upgrade.

Twilio signs the exact URL it requested. Behind a proxy or tunnel that URL is
the public one, so it is rebuilt from the ``public_base_url`` setting (or,
when unset, from the forwarded scheme and host) plus the request's path and
query. The WebSocket upgrade is signed over ``wss://host/path`` with no
parameters.

Twilio's identifiers have one form (``CA`` + 32 hex digits for a call, ``AC``
for an account, ``MZ`` for a media stream: the ``pattern`` of Twilio's API
spec); a signed request carrying anything else did not come from Twilio's
voice engine as documented, and is refused (:func:`malformed_ids`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from loguru import logger
from starlette.requests import HTTPConnection
from twilio.request_validator import RequestValidator

from agent.core.settings import Settings

CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
STREAM_SID = re.compile(r"MZ[0-9a-fA-F]{32}")
# Every webhook names its call (for /twilio/whisper: the engineer's leg, a call too) and, when it says so, the account.
WEBHOOK_IDS = {"CallSid": CALL_SID}
WEBHOOK_OPTIONAL_IDS = {"AccountSid": ACCOUNT_SID}
# A media stream's ``start`` body names its call and stream, and when it says so the account.
STREAM_IDS = {"callSid": CALL_SID, "streamSid": STREAM_SID}
STREAM_OPTIONAL_IDS = {"accountSid": ACCOUNT_SID}


def malformed_ids(
    values: Mapping[str, object], required: Mapping[str, re.Pattern[str]], optional: Mapping[str, re.Pattern[str]] | None = None,
) -> list[str]:
    """The names (never the values) of Twilio identifiers in ``values`` that are missing or not of Twilio's form.

    ``required`` must be there; ``optional`` may be absent, but not present and malformed (an empty value is malformed).
    """
    bad = []
    for fields, needed in ((required, True), (optional or {}, False)):
        for name, pattern in fields.items():
            if name not in values:
                if needed:
                    bad.append(name)
                continue
            value = values[name]
            if not isinstance(value, str) or pattern.fullmatch(value) is None:
                bad.append(name)
    return bad


class SignatureCheck:
    def __init__(self, settings: Settings) -> None:
        self._enabled = settings.validate_signatures
        token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
        self._validator = RequestValidator(token) if token else None
        # Only the origin counts: the path Twilio requested is the request's own (mounted under a prefix or not).
        public = urlsplit(settings.public_base_url) if settings.public_base_url else None
        self._public = f"{public.scheme}://{public.netloc}" if public else None
        if self._enabled and self._validator is None:
            logger.warning("no Twilio auth token: every signed request will be refused")

    def public_base(self, conn: HTTPConnection) -> str:
        """The https base URL Twilio uses to reach us."""
        if self._public:
            return self._public
        proto = conn.headers.get("x-forwarded-proto", conn.url.scheme).split(",")[0].strip()
        host = conn.headers.get("x-forwarded-host", conn.headers.get("host", conn.url.netloc)).split(",")[0].strip()
        scheme = "https" if proto in ("https", "wss") else "http"
        return f"{scheme}://{host}"

    def url_of(self, conn: HTTPConnection, *, websocket: bool = False) -> str:
        base = self.public_base(conn)
        if websocket:
            # Twilio opens media streams over wss only, and signs that URL.
            return f"wss://{urlsplit(base).netloc}{conn.url.path}"
        query = f"?{conn.url.query}" if conn.url.query else ""
        return f"{base}{conn.url.path}{query}"

    def valid(self, conn: HTTPConnection, params: dict[str, str], *, websocket: bool = False) -> bool:
        if not self._enabled:
            return True
        signature = conn.headers.get("x-twilio-signature")
        if not signature or self._validator is None:
            return False
        return self._validator.validate(self.url_of(conn, websocket=websocket), params, signature)
