"""Figures for one half: strict intent accuracy, a confusion table, slot precision and recall."""

from __future__ import annotations

from collections import Counter
from typing import Any

from benchmarks.understanding.data import REASK, SlotTurn, Utterance
from benchmarks.understanding.engine import same_value


def accuracy(gold: list[str], predicted: list[str]) -> float:
    return sum(g == p for g, p in zip(gold, predicted)) / max(len(gold), 1)


def by_group(items: list[Utterance], predicted: list[str], key: str) -> dict[str, tuple[int, int]]:
    """Right and total per language (``lang``) or per kind of line."""
    totals: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for item, guess in zip(items, predicted):
        group = getattr(item, key)
        totals[group] += 1
        right[group] += item.intent == guess
    return {g: (right[g], totals[g]) for g in sorted(totals)}


def confusion(gold: list[str], predicted: list[str]) -> str:
    """Rows: the label; columns: what was predicted (only labels that occur)."""
    labels = sorted(set(gold) | set(predicted))
    short = {label: label[:8] for label in labels}
    counts = Counter(zip(gold, predicted))
    width = max(len(label) for label in labels)
    lines = [" " * width + " | " + " ".join(f"{short[p]:>8}" for p in labels)]
    for g in labels:
        lines.append(f"{g:<{width}} | " + " ".join(f"{counts[(g, p)] or '.':>8}" for p in labels))
    return "\n".join(lines)


def slot_scores(turns: list[SlotTurn], kept: list[dict[str, Any]]) -> dict[str, Any]:
    """Precision: kept values that are right; recall: expected values kept; re-ask: turns that should keep nothing and kept nothing."""
    right = wrong = missed = 0
    reask_ok = reask_total = 0
    mistakes: list[str] = []
    for turn, got in zip(turns, kept):
        for field, value in got.items():
            if field in turn.expect and same_value(field, turn.expect[field], value):
                right += 1
            else:
                wrong += 1
                mistakes.append(f"{turn.id} [{turn.asking}] {turn.text!r}: kept {field}={value!r}, expected {turn.expect.get(field, REASK)!r}")
        for field, value in turn.expect.items():
            if field not in got or not same_value(field, value, got[field]):
                missed += 1
                if field not in got:
                    mistakes.append(f"{turn.id} [{turn.asking}] {turn.text!r}: missed {field}={value!r}")
        if not turn.expect:
            reask_total += 1
            reask_ok += not got
    return {
        "precision": right / max(right + wrong, 1),
        "recall": right / max(right + missed, 1),
        "right": right,
        "wrong": wrong,
        "missed": missed,
        "reask": (reask_ok, reask_total),
        "mistakes": mistakes,
    }
