"""What happens to a call (events) and what the flow does about it (actions).

The flow stepper (:mod:`agent.flow.stepper`) turns one event into a list of
actions; each mode renders them its own way: the simulator as text, the live
server as TwiML, a media stream as the model's work. An action that waits
(:data:`WAITING`) is always last: the next event is its answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent.core.call import Alert, Decided, Outcome

# -- events: what the caller, Twilio or the model did -------------------------------------------


@dataclass(frozen=True)
class Pressed:
    """Keys on the keypad (or digits a caller spoke where keys were asked for)."""

    keys: str


@dataclass(frozen=True)
class Heard:
    """What the caller said (Twilio's speech result, a typed line)."""

    text: str


@dataclass(frozen=True)
class Silence:
    """The caller said nothing for as long as the node listens."""


@dataclass(frozen=True)
class DialEnded:
    """A dial round ended: someone took the call or nobody did (``who``: the index in the round, when known)."""

    answered: bool
    who: int | None = None


@dataclass(frozen=True)
class Recorded:
    """A voicemail: Twilio's recording (``url``, ``seconds``) or, simulated, the words left."""

    url: str | None = None
    seconds: int = 0
    text: str = ""


@dataclass(frozen=True)
class ModelDecided:
    """The model running an AI node decided where the call goes."""

    decision: Decided


@dataclass(frozen=True)
class ModelFailed:
    """The model running an AI node is gone without deciding: the deterministic engine takes over."""


@dataclass(frozen=True)
class HungUp:
    """The caller hung up."""


Event = Pressed | Heard | Silence | DialEnded | Recorded | ModelDecided | ModelFailed | HungUp

# -- actions: what the call does -----------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    text: str
    language: str


@dataclass(frozen=True)
class Play:
    url: str
    caption: str = ""  # what the recording says, for the simulator's transcript


@dataclass(frozen=True)
class StartRecording:
    """Record the whole call (both sides) from here on; its link goes with the call's alerts."""


@dataclass(frozen=True)
class Note:
    """Something that happened that the caller does not hear (support hours, a block list, a lookup)."""

    text: str


@dataclass(frozen=True)
class AlertOpened:
    alert: Alert
    failed: str | None = None  # the platform failed: why (the caller still reaches a person)

    @property
    def line(self) -> str:
        """What happened, as the simulator and the call's system notes show it."""
        alert = self.alert
        where = f" at {alert.receipt.platform} ({alert.receipt.url or alert.receipt.key})" if alert.receipt else ""
        joined = " (already reported: joined the open alert)" if alert.already_reported else ""
        return f"alert opened ({alert.priority}){where}{joined}: {alert.summary}"


@dataclass(frozen=True)
class AskKeys:
    """Say ``prompt`` and wait for keys (answer: :class:`Pressed`; for ``whisper``: :meth:`FlowStepper.whisper` again).

    With no key an ``ivr`` or ``pin`` prompt continues with no digits; a
    ``whisper`` prompt (the engineer's leg) goes on to the actions after it.
    """

    purpose: Literal["ivr", "pin", "whisper"]
    prompt: str
    language: str
    max_digits: int
    finish_on_key: str | None
    timeout_s: int


@dataclass(frozen=True)
class Record:
    """Say ``prompt``, then record a message after a beep (answer: :class:`Recorded`)."""

    prompt: str
    language: str
    max_seconds: int


@dataclass(frozen=True)
class Dial:
    """Ring ``people`` (name, E.164 number) and bridge the caller to whoever takes it (answer: :class:`DialEnded`)."""

    people: list[tuple[str, str]]
    ring_timeout_s: int
    whisper: str | None  # the briefing the engineer hears first (None: no briefing)
    whisper_accept: bool  # the engineer presses 1 to take the call
    parallel: bool


@dataclass(frozen=True)
class Listen:
    """Say ``lines``, then listen to the caller (answer: :class:`Heard`, :class:`Pressed` or :class:`Silence`)."""

    lines: list[str]
    language: str
    timeout_s: int


@dataclass(frozen=True)
class Converse:
    """A model runs the AI node ``node_id`` (answer: :class:`ModelDecided`, :class:`ModelFailed` or :class:`HungUp`)."""

    node_id: str


@dataclass(frozen=True)
class Hangup:
    """The call ends here; its outcome is written."""

    reason: str


Action = Say | Play | StartRecording | Note | AlertOpened | AskKeys | Record | Dial | Listen | Converse | Hangup
WAITING = (AskKeys, Record, Dial, Listen, Converse)


@dataclass
class Step:
    """What the call does after one event: actions in order; the last waits for the next event, or ends the call."""

    actions: list[Action] = field(default_factory=list)
    outcome: Outcome | None = None  # when the call ended (and this step wrote its outcome)

    @property
    def waiting(self) -> AskKeys | Record | Dial | Listen | Converse | None:
        last = self.actions[-1] if self.actions else None
        return last if isinstance(last, WAITING) else None

    @property
    def ended(self) -> str | None:
        last = self.actions[-1] if self.actions else None
        return last.reason if isinstance(last, Hangup) else None
