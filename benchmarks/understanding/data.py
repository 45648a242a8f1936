"""The labelled sets: caller utterances with their intent, and slot turns with the fields they fill."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).parent / "data"
OFF_TOPIC = "off_topic"  # no built-in intent fits: the engine should match nothing
REASK = "re-ask"  # shown for a slot turn that should keep no value


@dataclass(frozen=True)
class Utterance:
    id: str
    text: str
    intent: str
    lang: str


@dataclass(frozen=True)
class SlotTurn:
    id: str
    asking: str  # the field the agent just asked for
    text: str
    lang: str
    expect: dict = field(default_factory=dict)  # field -> value; empty: nothing is kept, the question is asked again


def halves(name: str = "intents") -> list[str]:
    """The halves a set has on disk (``dev``, ``heldout``, ``probe``, ``probe2``...), never ``all``, the unsplit source."""
    return sorted(p.name.split(".")[1] for p in DATA.glob(f"{name}.*.jsonl") if p.name.split(".")[1] != "all")


def _rows(name: str, half: str) -> list[dict]:
    path = DATA / f"{name}.{half}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def utterances(half: str) -> list[Utterance]:
    return [Utterance(**row) for row in _rows("intents", half)]


def slot_turns(half: str) -> list[SlotTurn]:
    return [SlotTurn(**row) for row in _rows("slots", half)]
