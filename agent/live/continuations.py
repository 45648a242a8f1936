"""Where a call's state waits between two of Twilio's requests, within every limit Twilio sets.

A sealed :class:`Call` rides in the URLs Twilio calls back while it is
small, so any replica can serve the next request with nothing shared. One
that has grown past :data:`MAX_INLINE_TOKEN` (a long conversation) waits in
the shared store (Redis across replicas; memory for one) under a short random
id with the token's TTL, and the URL carries only that id: however long the
call, no URL, ``<Parameter>`` or TwiML document grows with it. The stored
value is the same sealed, call-bound token, so the store never holds caller
data in the clear, and nothing is written to disk.

The call's *latest* state is kept too (:meth:`Continuations.checkpoint`):
while Twilio waits for the caller, and after every turn of a media stream.
A status callback reports a hang-up from it, and the ``<Redirect>`` Twilio
follows when a stream is lost (its server was killed) continues from it
rather than from the start of the node.
"""

from __future__ import annotations

import secrets

from agent.core.call import Call
from agent.live.tokens import TokenCodec, TokenError
from agent.core.shared_state import SharedState

# A sealed state longer than this is stored and referenced. Twilio documents no length limit for
# the action URLs of <Gather>/<Record>/<Dial> (tests/contracts/twilio/limits.yaml); its documented
# URL limits elsewhere are 4,000 characters, so an inline URL stays at a third of that.
MAX_INLINE_TOKEN = 1200
REF_PREFIX = "~"  # not in a Fernet token's alphabet (URL-safe base64, which always starts "gAAAAA")
_REF_KEY = "state:"
_LATEST_KEY = "open:"


class StateLost(TokenError):
    """A genuine reference whose state is no longer in the shared store (expired, or another replica's memory)."""


class Continuations:
    """Refs to a call's state for Twilio's URLs, and the call's latest state, on every replica."""

    def __init__(self, codec: TokenCodec, shared: SharedState, ttl_s: float) -> None:
        self.codec, self.shared, self.ttl_s = codec, shared, ttl_s

    async def ref(self, state: Call) -> str:
        """What a URL carries for ``state``: its sealed token, or a short id where that is too long."""
        token = self.codec.seal(state)
        if len(token) <= MAX_INLINE_TOKEN:
            return token
        ref = REF_PREFIX + secrets.token_urlsafe(16)
        await self.shared.put(_REF_KEY + ref, token, self.ttl_s)
        return ref

    async def open(self, ref: str, call_sid: str | None) -> Call:
        """The state behind ``ref``; :class:`TokenError` unless genuine, fresh and this call's."""
        if ref.startswith(REF_PREFIX):
            token = await self.shared.get(_REF_KEY + ref) if len(ref) < 64 else None
            if token is None:
                raise StateLost("continuation state expired or not in the shared store (several replicas need VOICE_AGENT_STATE_URL)")
            ref = token
        return self.codec.open(ref, call_sid)

    async def checkpoint(self, state: Call) -> None:
        """Remember ``state`` as the call's latest (one more step than any before)."""
        state.seq += 1
        await self.shared.put(_LATEST_KEY + state.call_id, self.codec.seal(state), self.ttl_s)

    async def latest(self, call_sid: str, *, remove: bool = False) -> Call | None:
        """The call's latest state, if one is kept and readable (``remove``: and forget it)."""
        key = _LATEST_KEY + call_sid
        token = await (self.shared.take(key) if remove else self.shared.get(key))
        if token is None:
            return None
        try:
            return self.codec.open(token, call_sid)
        except TokenError:
            return None

    async def forget(self, call_sid: str) -> None:
        """The call ended: its latest state is of no more use."""
        await self.shared.take(_LATEST_KEY + call_sid)
