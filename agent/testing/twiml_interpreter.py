"""A stand-in for Twilio's voice engine: it calls the webhooks and follows the TwiML they return.

It signs every request like Twilio (``X-Twilio-Signature`` over the public
URL), speaks a scripted caller's lines into ``<Gather>`` (as ``SpeechResult``
or ``Digits``), plays ``<Say>`` into a transcript, follows ``<Redirect>``,
answers ``<Dial>`` (fetching each number's whisper URL, as Twilio does for the
callee) and ``<Record>``, notes ``<Start><Recording>``, and stops at ``<Hangup>`` or at the end of the
document. ``<Connect><Stream>`` is handed to a callback, so tests can attach a
fake Media Streams client there.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator

MAX_REQUESTS = 200
MAX_TWIML_PARAMETER = 4000  # https://www.twilio.com/docs/api/errors/32018


def call_update(form: dict[str, str], call_sid: str) -> tuple[int, dict[str, object], str | None]:
    """What Twilio's call-update endpoint does with ``form``: (HTTP status, JSON body, where the call goes).

    The call goes to a URL (``Url``, fetched like a webhook) or to inline TwiML
    (``Twiml``, refused beyond 4,000 characters with error 32018, in Twilio's
    REST error shape: ``code``, ``message``, ``more_info``, ``status``); None
    for other updates (``Status=completed``).
    """
    twiml = form.get("Twiml")
    if twiml is not None and len(twiml) > MAX_TWIML_PARAMETER:
        return 400, {
            "code": 32018, "message": "Twiml size exceeded maximum allowed value of 4000 characters",
            "more_info": "https://www.twilio.com/docs/errors/32018", "status": 400,
        }, None
    return 200, {"sid": call_sid, "status": "in-progress"}, form.get("Url") or twiml


@dataclass
class Spoken:
    """One caller turn for a ``<Gather>``: speech, keys, or (both empty) silence."""

    speech: str = ""
    digits: str = ""


@dataclass
class TwilioCallRecord:
    """What happened on the simulated call."""

    said: list[str] = field(default_factory=list)
    said_languages: list[str | None] = field(default_factory=list)  # each <Say>'s language attribute, as said
    gather_languages: list[str | None] = field(default_factory=list)  # each <Gather>'s language attribute
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    dialled: list[str] = field(default_factory=list)
    whispers: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    recordings: list[dict[str, str]] = field(default_factory=list)  # <Start><Recording> attributes
    hung_up: bool = False
    statuses: list[int] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # every TwiML document Twilio ran, in order (whispers too)


StreamHandler = Callable[[str, dict[str, str]], Awaitable[str | None]]  # -> where the call went: a URL or TwiML


class TwimlInterpreter:
    """Drives one call through a bot server the way Twilio would."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        public_url: str,
        *,
        auth_token: str | None,
        from_number: str = "+15555550100",
        to_number: str = "+15555550199",
        account_sid: str = "AC" + "0" * 32,
        call_sid: str | None = None,
        answer_dials: bool | Callable[[str], bool] = True,
        callee_keys: str | Callable[[str], str] = "1",
        on_stream: StreamHandler | None = None,
        status_callback: str | None = None,
    ) -> None:
        self._client = client
        self._public = public_url.rstrip("/")
        self._validator = RequestValidator(auth_token) if auth_token else None
        self.call_sid = call_sid or "CA" + uuid.uuid4().hex
        self._base_form = {"AccountSid": account_sid, "CallSid": self.call_sid, "From": from_number, "To": to_number, "Direction": "inbound", "ApiVersion": "2010-04-01"}
        self._answer = answer_dials
        self._callee_keys = callee_keys
        self._on_stream = on_stream
        self._status_callback = status_callback  # the number's "call status changes" URL (a path on the public URL)
        self.record = TwilioCallRecord()

    async def post(self, url: str, form: dict[str, str]) -> httpx.Response:
        """POST a signed form to a public URL (or a path on it)."""
        if url.startswith("/"):
            url = self._public + url
        headers = {}
        if self._validator is not None:
            headers["X-Twilio-Signature"] = self._validator.compute_signature(url, form)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = await self._client.post(path, data=form, headers=headers)
        self.record.requests.append((url, form))
        self.record.statuses.append(response.status_code)
        return response

    async def call(self, turns: list[Spoken | str], voice_path: str = "/twilio/voice") -> TwilioCallRecord:
        """Place the call and play ``turns`` into each ``<Gather>`` until the call ends."""
        queue = [t if isinstance(t, Spoken) else Spoken(speech=t) for t in turns]
        response = await self.post(voice_path, {**self._base_form, "CallStatus": "ringing"})
        for _ in range(MAX_REQUESTS):
            if response.status_code != 200:
                break
            next_request = await self._run(response.text, queue)
            if next_request is None:
                break
            url, form = next_request
            response = await self.post(url, {**self._base_form, "CallStatus": "in-progress", **form})
        else:
            raise RuntimeError("the call did not end after %d requests" % MAX_REQUESTS)
        if self._status_callback is not None:  # Twilio reports the end of every call, however it ended
            await self.post(self._status_callback, {**self._base_form, "CallStatus": "completed", "CallDuration": "42"})
        return self.record

    async def _screen(self, url: str | None, number: str) -> bool:
        """Run the whisper TwiML on the callee's leg, pressing their keys; True when the call is bridged."""
        if not url:
            return True
        keys = list(self._callee_keys(number) if callable(self._callee_keys) else self._callee_keys)
        form = {"CallSid": "CA" + uuid.uuid4().hex, "To": number}
        for _ in range(10):
            twiml = (await self.post(url, form)).text
            self.record.documents.append(twiml)
            root = ElementTree.fromstring(twiml)
            self.record.whispers.append(" ".join(e.text or "" for e in root.iter() if e.tag == "Say" and e.text))
            gather = root.find("Gather")
            if gather is None:
                return root.find("Hangup") is None  # TwiML that ends without hanging up bridges the call
            if not keys:  # no key in time: Twilio goes on with the verbs after <Gather>, which bridge unless they hang up
                return root.find("Hangup") is None
            url, form = gather.get("action", ""), {**form, "Digits": keys.pop(0)}
        return False

    async def _run(self, twiml: str, queue: list[Spoken]) -> tuple[str, dict[str, str]] | None:
        """Execute one TwiML document; the request it leads to, or None when the call ends."""
        self.record.documents.append(twiml)
        root = ElementTree.fromstring(twiml)
        for verb in root:
            tag = verb.tag
            if tag == "Say":
                self.record.said.append(verb.text or "")
                self.record.said_languages.append(verb.get("language"))
            elif tag == "Play":
                self.record.said.append(f"(plays {verb.text})")
                self.record.said_languages.append(None)
            elif tag == "Gather":
                self.record.gather_languages.append(verb.get("language"))
                for inner in verb:
                    if inner.tag == "Say":
                        self.record.said.append(inner.text or "")
                        self.record.said_languages.append(inner.get("language"))
                if not queue:
                    self.record.hung_up = True
                    return None
                turn = queue.pop(0)
                if turn.speech or turn.digits:
                    form = {"SpeechResult": turn.speech, "Confidence": "0.9"} if turn.speech else {"Digits": turn.digits}
                    return verb.get("action", ""), form
                # Nothing heard: Twilio moves on to the next verb.
            elif tag == "Redirect":
                return (verb.text or "").strip(), {}
            elif tag == "Start":
                self.record.recordings += [dict(inner.attrib) for inner in verb if inner.tag == "Recording"]
            elif tag == "Record":
                turn = queue.pop(0) if queue else Spoken()
                if turn.speech:
                    seconds = str(max(1, len(turn.speech.split()) // 2))
                    return verb.get("action", ""), {"RecordingUrl": f"https://api.twilio.com/recordings/RE{uuid.uuid4().hex}", "RecordingDuration": seconds}
            elif tag == "Dial":
                bridged = False
                for number in verb:
                    who = number.text or ""
                    self.record.dialled.append(who)
                    picked_up = self._answer(who) if callable(self._answer) else self._answer
                    if picked_up and not bridged:
                        bridged = await self._screen(number.get("url"), who)
                status = "completed" if bridged else "no-answer"
                if verb.get("action"):
                    return verb.get("action", ""), {"DialCallStatus": status, "DialBridged": "true" if bridged else "false"}
                if bridged:
                    return None
            elif tag == "Connect":
                stream = verb.find("Stream")
                if stream is not None:
                    self.record.streams.append(stream.get("url", ""))
                    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
                    if self._on_stream is not None:
                        redirected = await self._on_stream(stream.get("url", ""), params)
                        if redirected is not None and redirected.lstrip().startswith("<"):
                            return await self._run(redirected, queue)
                        if redirected is not None:
                            return redirected, {}  # a call update with Url=: Twilio fetches it
            elif tag == "Hangup":
                self.record.hung_up = True
                return None
        self.record.hung_up = True
        return None
