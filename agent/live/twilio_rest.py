"""The Twilio REST calls the agent makes: redirect or hang up a live call, read its recordings.

Plain httpx (so respx can stand in for Twilio in tests), the API base URL
from settings, retries with backoff on 5xx, 429 and time-outs. A call that
already ended (404 / error 20404, or 400 "not in-progress") is reported as
gone, not as an error: the caller simply hung up first.
"""

from __future__ import annotations

import asyncio
from enum import Enum

import httpx
from loguru import logger

from agent.core.http_client import http_client
from agent.core.settings import Settings


class UpdateResult(str, Enum):
    OK = "ok"
    GONE = "gone"  # the call had already ended


class TwilioRestError(RuntimeError):
    """Twilio refused or could not be reached after every retry."""


class TwilioRest:
    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._client = client or http_client(timeout=settings.rest_timeout_s)
        if settings.twilio_api_key_sid and settings.twilio_api_key_secret:
            self._auth = (settings.twilio_api_key_sid, settings.twilio_api_key_secret.get_secret_value())
        elif settings.twilio_account_sid and settings.twilio_auth_token:
            self._auth = (settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
        else:
            self._auth = None

    def _account_url(self, path: str) -> str:
        base = self._settings.twilio_api_base_url.rstrip("/")
        return f"{base}/2010-04-01/Accounts/{self._settings.twilio_account_sid}/{path}"

    def _call_url(self, call_sid: str) -> str:
        return self._account_url(f"Calls/{call_sid}.json")

    async def redirect(self, call_sid: str, url: str) -> UpdateResult:
        """Send the live call on to the TwiML at ``url`` (the stream then ends by itself).

        Twilio fetches it like any webhook (signed POST); should that request
        fail, it tries once more (``FallbackUrl``), which a load balancer sends
        to a replica that answers. Never inline ``Twiml=``: Twilio refuses more
        than 4,000 characters there (error 32018).
        """
        return await self._update(call_sid, {"Url": url, "Method": "POST", "FallbackUrl": url, "FallbackMethod": "POST"})

    async def hang_up(self, call_sid: str) -> UpdateResult:
        return await self._update(call_sid, {"Status": "completed"})

    async def _update(self, call_sid: str, form: dict[str, str]) -> UpdateResult:
        if self._auth is None or not self._settings.twilio_account_sid:
            raise TwilioRestError("Twilio credentials are not configured (VOICE_AGENT_TWILIO_ACCOUNT_SID and auth token)")
        delay = 0.2
        last: str = ""
        for attempt in range(self._settings.rest_retries + 1):
            try:
                response = await self._client.post(self._call_url(call_sid), data=form, auth=self._auth)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return UpdateResult.OK
                if response.status_code in (404, 400) and _call_gone(response):
                    return UpdateResult.GONE
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code < 500 and response.status_code != 429:
                    break
            if attempt < self._settings.rest_retries:
                logger.warning("Twilio call update failed ({}); retrying in {:.1f}s", last, delay)
                await asyncio.sleep(delay)
                delay *= 2
        raise TwilioRestError(f"Twilio call update failed: {last}")

    def recording_url(self, recording_sid: str, ext: str = ".mp3") -> str:
        """Where a recording's audio is (Twilio's console and API users can open it)."""
        return self._account_url(f"Recordings/{recording_sid}{ext}")

    async def recordings(self, call_sid: str) -> list[dict]:
        """The call's recordings (``sid``, ``status``, ``duration``), newest first as Twilio lists them."""
        response = await self._get(self._account_url(f"Calls/{call_sid}/Recordings.json"))
        try:
            records = response.json().get("recordings")
        except (ValueError, AttributeError) as exc:
            raise TwilioRestError("Twilio answered the recordings list with something other than JSON") from exc
        return [r for r in records if isinstance(r, dict) and isinstance(r.get("sid"), str)] if isinstance(records, list) else []

    async def recording_audio(self, recording_sid: str) -> bytes:
        """A recording's audio (MP3), in memory only: caller audio never touches our disk."""
        return (await self._get(self.recording_url(recording_sid))).content

    async def _get(self, url: str) -> httpx.Response:
        if self._auth is None or not self._settings.twilio_account_sid:
            raise TwilioRestError("Twilio credentials are not configured (VOICE_AGENT_TWILIO_ACCOUNT_SID and auth token)")
        try:
            response = await self._client.get(url, auth=self._auth, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise TwilioRestError(f"Twilio GET failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise TwilioRestError(f"Twilio GET failed: HTTP {response.status_code}: {response.text[:200]}")
        return response

    async def aclose(self) -> None:
        await self._client.aclose()


def _call_gone(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return response.status_code == 404
    code = body.get("code") if isinstance(body, dict) else None
    return response.status_code == 404 or code in (20404, 21220)
