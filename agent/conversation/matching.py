"""Recognising what a caller wants from their words, fuzzily, for the deterministic engine.

Each intent is described by its examples and keywords. A caller line is
scored against every intent: words are lightly stemmed and matched with a
typo-tolerant ratio, rarer words (those that point at one intent only) weigh
more, and a whole-line similarity to the closest example adds to that. So
"our websit is totaly dead" still finds ``system_outage``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from agent.core.extract import STOPWORDS, stem, words
from agent.core.intents import Intent

MIN_SCORE = 1.0


@dataclass(frozen=True)
class IntentMatch:
    intent: str
    score: float


_FILLER = frozenset(
    "want wanted need like think know tell say see would could also one quick please call calling "
    # time words say when, not what: "good morning" and "what time is it" are no intent
    "morning afternoon evening night today time times day days week minute minutes hour hours ago since".split()
)
_KEEP = frozenset(("down", "not", "can't", "cannot", "off"))


def _terms(text: str) -> list[str]:
    return [stem(w) for w in words(text) if (w not in STOPWORDS and w not in _FILLER) or w in _KEEP]


class IntentMatcher:
    """Scores caller lines against a fixed set of intents."""

    def __init__(self, intents: list[Intent]) -> None:
        self.intents = {i.name: i for i in intents}
        self._vocab: dict[str, dict[str, float]] = {}
        self._phrases: dict[str, list[str]] = {}
        document_frequency: dict[str, int] = defaultdict(int)
        raw: dict[str, set[str]] = {}
        for intent in intents:
            terms = set()
            for text in [*intent.examples, *intent.keywords, intent.label]:
                terms.update(_terms(text))
            raw[intent.name] = terms
            for term in terms:
                document_frequency[term] += 1
            self._phrases[intent.name] = [
                re.compile(rf"\b{re.escape(k.lower())}\b") for k in intent.keywords if " " in k
            ]
        count = max(len(intents), 1)
        for name, terms in raw.items():
            self._vocab[name] = {t: 1.0 + math.log(count / document_frequency[t]) for t in terms}
        self._all_terms = sorted(document_frequency)
        self._term_set = set(self._all_terms)
        self._examples = {i.name: [" ".join(_terms(e)) for e in i.examples] for i in intents}

    def _canonical(self, term: str) -> str | None:
        if term in self._term_set:
            return term
        if len(term) < 4:
            return None
        best = process.extractOne(term, self._all_terms, scorer=fuzz.ratio, score_cutoff=84)
        return best[0] if best else None

    def scores(self, text: str) -> dict[str, float]:
        """Score of every intent for one line (0 = nothing in common)."""
        lowered = text.lower()
        terms = _terms(text)
        line_terms = " ".join(terms)
        spoken = {c for t in terms if (c := self._canonical(t))}
        out: dict[str, float] = {}
        for name, vocab in self._vocab.items():
            score = sum(weight for term, weight in vocab.items() if term in spoken)
            score += sum(1.5 for phrase in self._phrases[name] if phrase.search(lowered))
            if self._examples[name] and line_terms:
                best = process.extractOne(line_terms, self._examples[name], scorer=fuzz.token_sort_ratio)
                if best and best[1] >= 65:
                    score += (best[1] - 65) / 10
            out[name] = round(score, 3)
        return out

    def match(self, text: str, *, among: list[str] | None = None) -> IntentMatch | None:
        """The best intent for a line, or None when nothing scores well enough."""
        scores = self.scores(text)
        candidates = {k: v for k, v in scores.items() if among is None or k in among}
        if not candidates:
            return None
        name = max(candidates, key=lambda k: candidates[k])
        if candidates[name] < MIN_SCORE:
            return None
        return IntentMatch(name, candidates[name])
