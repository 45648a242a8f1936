"""Recognising what a caller wants from their words, fuzzily, for the deterministic engine.

Each intent is described by its examples and keywords (English and German).
A caller line is normalised the way speech recognition writes it (lower
case, no punctuation, numbers as words: "five oh two" is 502), cut into
lightly stemmed terms, and each term is looked up in the intents' vocabulary:
exactly, misspelt ("paymnet"; a wrong letter only a neighbouring key or a
like sound), as another form of a known word ("certificate"/"certification",
"gehostet"/"hosted"), or as part of a German compound ("Fehlermeldungen" holds
"fehler"). A term weighs for an intent by how much it points at that intent
and not at the others; whole keyword phrases and the closest example add to
that. An intent heard only through shared words yields to one the line bears
a sure sign of; of two sure signs, the higher ``priority`` decides (a caller
who reports an outage and asks for a person wants the person).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from agent.core.extract import DIGIT_WORDS, ENGLISH_TEENS, ENGLISH_TENS, STOPWORDS, words
from agent.core.intents import Intent

MIN_SCORE = 1.3
_SMOOTH = 0.25  # added to a term's uses before its share is taken: a term used once counts less
_EXAMPLE, _PHRASE_WORD, _KEYWORD = 1.0, 0.5, 3.0  # how much one use of a term counts, by where it is used
_PHRASE = 1.4  # a whole keyword phrase heard in the line
_SIMILAR = 65  # a line this close (token-sort ratio) to one of an intent's examples scores more the closer it is
_YIELD = 0.5  # an intent without a sure sign yields to one with a sure sign that scores at least this share of it
_ROOT = 7  # words that share their first seven letters are forms of one word (shorter roots part 'customer' and 'customise')
_SIGN = 1.3  # a keyword weighing this much for one intent (used by it alone) is a sure sign of it

_FILLER = frozenset(
    "want wanted need like think know tell say see would could also one quick please call calling "
    # time words say when, not what: "good morning" and "what time is it" are no intent
    "morning afternoon evening night today time times day days week minute minutes hour hours ago since "
    "hi hello hey sorry yes yeah ok okay guys basically actually really right now just keep keeps kept".split()
)
_GERMAN_STOPWORDS = frozenset(
    """der die das den dem des ein eine einen einem einer eines und oder aber ist sind war waren wird werden
    wurde wurden bin bist sein seit ich du er sie es wir ihr mir mich mein meine meinen meinem unser unsere
    unseren unserem euch ihnen ihre ihren ihrem bei mit von vom zu zum zur im in an am auf aus für über um
    so da dann noch schon auch nur mal doch ja nein bitte danke hallo guten tag morgen heute hier jetzt gerade
    haben habe hat hatte hätte kann können könnte möchte möchten will wollen sollte muss man wie was wo wer
    wann warum welche welcher welches dass als wenn ob nicht kein keine keinen ähm äh also eigentlich irgendwie
    sehr ganz immer wieder nach vor seit etwa ungefähr""".split()
)
_KEEP = frozenset(("down", "not", "can't", "cannot", "off", "nicht", "ganz", "nichts", "alle", "kein", "keine", "all"))
# Lines that say the call is not for us, whatever words of an intent they carry.
_NOT_FOR_US = re.compile(r"\b(wrong number|dialed the wrong|dialled the wrong|falsch verbunden|verwaehlt)\b")
# "my ..." at the start of a line, and the words that show a caller speaks to us about our product
_MY = frozenset(("my", "mein", "meine", "meinen", "meinem", "meiner"))
_OPENERS = frozenset("hi hello hey um uh so yes yeah well oh ja hallo also ähm aeh aehm naja".split())
_ADDRESSED = frozenset(("your", "you", "ihr", "ihre", "ihrem", "ihren", "ihrer", "euer", "eure", "euren", "eurem"))
_GERMAN_HOW = re.compile(r"\b(wie|wo)\s+(?!ist\b|sind\b|war\b)\w+\s+(?:ich|wir)\b")
_APOSTROPHE = {
    w.replace("'", ""): w
    for w in "don't doesn't didn't can't won't isn't aren't wasn't weren't couldn't wouldn't haven't hasn't".split()
}
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "’": "'"})
_ONE_TO_NINE = "|".join(w for w, d in DIGIT_WORDS.items() if d != "0")
_SPOKEN_CODE = re.compile(
    rf"\b({_ONE_TO_NINE})[\s-]+(hundred|{'|'.join(ENGLISH_TEENS)}|{'|'.join(ENGLISH_TENS)})(?:[\s-]+({_ONE_TO_NINE}))?\b"
)
_DIGIT_RUN = re.compile(r"\b(?:(?:" + "|".join(DIGIT_WORDS) + r")\b[\s-]*){2,}")


@dataclass(frozen=True)
class IntentMatch:
    intent: str
    score: float


def _hundreds(match: re.Match[str]) -> str:
    """'four twenty nine' -> '429', 'five hundred' -> '500': a status code said as a number, not digit by digit."""
    first, rest, unit = DIGIT_WORDS[match.group(1)], match.group(2), match.group(3)
    if rest == "hundred":
        return f"{first}00 "
    value = ENGLISH_TEENS.get(rest) or ENGLISH_TENS[rest] + (int(DIGIT_WORDS[unit]) if unit else 0)
    return f"{first}{value:02d} "


def _digits(text: str) -> str:
    """'five oh two' -> '502': spoken status codes and numbers as recognisers write them."""
    def joined(match: re.Match[str]) -> str:
        return "".join(DIGIT_WORDS[w] for w in re.split(r"[\s-]+", match.group(0).strip()) if w) + " "
    return _DIGIT_RUN.sub(joined, _SPOKEN_CODE.sub(_hundreds, text))


def _dropped_one(short: str, long: str) -> bool:
    """Whether ``short`` is ``long`` with one letter left out ("eror" for "error")."""
    return len(long) == len(short) + 1 and any(long[:i] + long[i + 1:] == short for i in range(len(long)))


_KEYBOARD = ("qwertzuiop", "asdfghjkl", "yxcvbnm", "qwertyuiop", "zxcvbnm")
_SOUNDS_ALIKE = {frozenset(p) for p in ("dt", "bp", "gk", "ck", "sz", "fv", "iy", "ae", "ou", "sc", "mn")}


def _near(a: str, b: str) -> bool:
    """Whether one letter typed or heard for another is a likely slip: neighbouring keys, or letters that sound alike."""
    if frozenset((a, b)) in _SOUNDS_ALIKE:
        return True
    for row in _KEYBOARD:
        if a in row and b in row and abs(row.index(a) - row.index(b)) == 1:
            return True
    return False


def _slip(spoken: str, known: str) -> bool:
    """Whether ``spoken`` is ``known`` misspelt, within what ``OSA`` already allowed.

    Short words are where a slip makes another word ("press" is not "preis", "sell"
    not "stell"): under seven letters only two letters swapped, or one left out or
    added after the first two, count; longer words may have any one or two slips.
    """
    if spoken[0] != known[0]:
        return False
    wrong = [(a, b) for a, b in zip(spoken, known) if a != b] if len(spoken) == len(known) else []
    if len(wrong) == 1 and not _near(*wrong[0]):
        return False  # one letter for another is a slip of the finger or the ear, not "passport" for "password"
    if len(spoken) >= 7 and len(known) >= 7:
        return True
    if sorted(spoken) == sorted(known):
        return True
    return spoken[:2] == known[:2] and (_dropped_one(spoken, known) or _dropped_one(known, spoken))


def _shared(a: str, b: str) -> int:
    """How many letters two words share from the start."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _participle(term: str) -> str | None:
    """The core of a German past participle ("gehostet" -> "host", "geaendert" -> "aender"), else None."""
    if len(term) < 7 or not term.startswith("ge") or not term.endswith("t"):
        return None
    core = term[2:-2] if term.endswith("et") else term[2:-1]
    return core if len(core) >= 4 else None


def _stem(word: str) -> str:
    """A light suffix strip for English and German ('failing'/'fails', 'Zahlungen'/'Zahlung')."""
    for suffix in ("ungen", "ing", "ed", "es", "en", "er", "s", "ly", "e"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _how(match: re.Match[str]) -> str:
    """'wie exportiere ich' also says 'how do i': a German question puts any verb where English has 'do'."""
    return f"{match.group(0)} {'how' if match.group(1) == 'wie' else 'where'} do i "


def _tokens(text: str) -> list[str]:
    # hyphens part words ("PDF-Rechnungen", "ISO-zertifiziert"), in examples and caller lines alike; a
    # negation typed or recognised without its apostrophe ("dont", "wont") is the one with it
    spoken = words(_GERMAN_HOW.sub(_how, _digits(text.lower().replace("-", " ")).translate(_FOLD)))
    return [re.sub(r"'(s|ve|re|ll|d|m)$", "", _APOSTROPHE.get(w, w)) for w in spoken]


_STOP = frozenset(w.translate(_FOLD) for w in STOPWORDS | _GERMAN_STOPWORDS | _FILLER) - _KEEP


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in _tokens(text) if w not in _STOP]


class IntentMatcher:
    """Scores caller lines against a fixed set of intents."""

    def __init__(self, intents: list[Intent]) -> None:
        self.intents = {i.name: i for i in intents}
        counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._phrases: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
        self._keyword_terms: dict[str, set[str]] = {}
        for intent in intents:
            single = [k for k in intent.keywords if len(_tokens(k)) == 1]
            several = [k for k in intent.keywords if len(_tokens(k)) > 1]  # phrases: their words count as an example's
            texts = [*((e, _EXAMPLE) for e in [*intent.examples, intent.label]), *((k, _PHRASE_WORD) for k in several), *((k, _KEYWORD) for k in single)]
            for text, weight in texts:
                for term in set(_terms(text)):
                    counts[term][intent.name] += weight
            self._keyword_terms[intent.name] = {t for k in single for t in _terms(k)}
            self._phrases[intent.name] = [  # with its first word, to try only the phrases a line could hold
                (_tokens(k)[0], re.compile(rf"\b{re.escape(' '.join(_tokens(k)))}\b"))
                for k in intent.keywords
                if len(_tokens(k)) > 1
            ]
        # How much a term points at each intent: its share of the term's uses (smoothed, so a rare term counts
        # less), times how often the intents use it at all (a keyword, or a word of several examples, counts more).
        self._weights: dict[str, dict[str, float]] = {}
        for term, per_intent in counts.items():
            total = sum(per_intent.values())
            strength = min(1.6, 1.0 + 0.25 * total)
            self._weights[term] = {name: strength * count / (total + _SMOOTH) for name, count in per_intent.items()}
        self._all_terms = sorted(self._weights)
        self._long_terms = [t for t in self._all_terms if len(t) >= 5]
        self._roots: dict[str, list[str]] = defaultdict(list)
        for term in self._all_terms:
            if len(term) >= _ROOT:
                self._roots[term[:_ROOT]].append(term)
        self._examples = {i.name: [" ".join(_terms(e)) for e in i.examples] for i in intents}
        self._canonical_cache: dict[str, tuple[tuple[str, float], ...]] = {}

    def _canonical(self, term: str) -> tuple[tuple[str, float], ...]:
        """Vocabulary terms a spoken term stands for, with how sure: exact, misspelt, or parts of a compound."""
        cached = self._canonical_cache.get(term)
        if cached is not None:
            return cached
        found: tuple[tuple[str, float], ...] = ()
        if term in self._weights:
            found = ((term, 1.0),)
        elif len(term) >= 4:
            # one slip (a swapped, missing, extra or wrong letter) in a word, two in a long one; in a
            # four-letter word only two letters swapped ("dwon"), else "look" would be "lock"
            slips = 1 if len(term) < 10 else 2  # two slips in an eight-letter word make "passport" "password"
            best = process.extractOne(term, self._all_terms, scorer=OSA.distance, score_cutoff=slips)
            root = [t for t in self._roots.get(term[:_ROOT], ()) if abs(len(t) - len(term)) <= 4]
            participle = _participle(term)
            if best and _slip(term, best[0]):
                found = ((best[0], 0.9),)
            elif participle and self._canonical(participle):  # "gehostet" is "hosted", "geändert" "ändern"
                found = tuple((t, sure * 0.95) for t, sure in self._canonical(participle))
            else:
                if root:  # another form of a known word: "certificate"/"certification", "konfiguriere"/"Konfiguration"
                    found = ((max(root, key=lambda t: (_shared(t, term), -len(t))), 0.85),)
                if len(term) >= 8:  # a German compound: its known parts (at least five letters each)
                    parts = [t for t in self._long_terms if t in term and len(t) <= len(term) - 3 and t not in dict(found)]
                    found = (*found, *((t, 0.8) for t in parts))[:3]
        if len(self._canonical_cache) < 20_000:
            self._canonical_cache[term] = found
        return found

    def _private_thing(self, text: str) -> bool:
        """Whether the line opens on a thing of the caller's own that no intent knows: "my printer is broken", "mein Fernseher".

        Callers of a product speak of "our" or "your" things, or of "my" account,
        password or invoice, which the intents know; a printer, a car or a washing
        machine is a call for somebody else, whatever problem words follow.
        """
        spoken = [w for w in _tokens(text) if w not in _OPENERS][:3]
        if len(spoken) < 2 or spoken[0] not in _MY or _ADDRESSED.intersection(_tokens(text)):
            return False
        thing = _stem(spoken[1])
        return thing not in _STOP and not any(sure >= 0.85 for _, sure in self._canonical(thing))

    def _score(self, text: str) -> tuple[dict[str, float], set[str]]:
        """Every intent's score, and the intents the line bears a sure sign of (an exact keyword of theirs alone, or a phrase)."""
        spoken = _tokens(text)
        spoken_text, spoken_words = " ".join(spoken), set(spoken)
        terms = _terms(text)
        line_terms = " ".join(terms)
        heard: dict[str, float] = {}
        for term in terms:
            for canonical, sure in self._canonical(term):
                heard[canonical] = max(heard.get(canonical, 0.0), sure)
        out: dict[str, float] = {name: 0.0 for name in self.intents}
        signs: set[str] = set()
        for term, sure in heard.items():
            for name, weight in self._weights[term].items():
                out[name] += weight * sure
                if sure == 1.0 and weight >= _SIGN and term in self._keyword_terms[name]:
                    signs.add(name)
        for name in self.intents:
            phrases = sum(
                _PHRASE for first, phrase in self._phrases[name] if first in spoken_words and phrase.search(spoken_text)
            )
            out[name] += phrases
            if phrases:
                signs.add(name)
            if self._examples[name] and line_terms:
                best = process.extractOne(line_terms, self._examples[name], scorer=fuzz.token_sort_ratio)
                if best and best[1] >= _SIMILAR:
                    out[name] += (best[1] - _SIMILAR) / 10
        return {name: round(score, 3) for name, score in out.items()}, signs

    def scores(self, text: str) -> dict[str, float]:
        """Score of every intent for one line (0 = nothing in common)."""
        return self._score(text)[0]

    def ranked(self, text: str, *, among: list[str] | None = None) -> list[IntentMatch]:
        """Every intent the line points at (score at least ``MIN_SCORE``), best first."""
        return _ranked(self.scores(text), among)

    def match(self, text: str, *, among: list[str] | None = None) -> IntentMatch | None:
        """The intent a line asks for, or None when nothing scores well enough.

        Words an intent merely shares ("the reports", "someone") yield to a sure
        sign of another ("how can I"). Of two intents in one line, one with a
        higher priority wins if the line bears a sure sign of it ("the site is
        down, put me through to an engineer": the person; "we were hacked and
        the site is down": the breach).
        """
        if _NOT_FOR_US.search(" ".join(_tokens(text))) or self._private_thing(text):
            return None
        scores, signs = self._score(text)
        ranked = _ranked(scores, among)
        if not ranked:
            return None
        best = ranked[0]
        if best.intent not in signs:  # shared words alone ("the reports", "someone") yield to a sure sign ("how can I")
            signed = [m for m in ranked if m.intent in signs and m.score >= _YIELD * best.score]
            best = signed[0] if signed else best
        for other in ranked[1:]:
            if other.intent in signs and self.intents[other.intent].priority > self.intents[best.intent].priority:
                best = other
        return best


def _ranked(scores: dict[str, float], among: list[str] | None) -> list[IntentMatch]:
    """The intents scoring at least ``MIN_SCORE`` (of ``among``, if given), best first."""
    found = [IntentMatch(n, s) for n, s in scores.items() if s >= MIN_SCORE and (among is None or n in among)]
    return sorted(found, key=lambda m: -m.score)


def matcher_for(intents: list[Intent]) -> IntentMatcher:
    """The matcher of these intents, built once per process and shared by every call that has them.

    Building one reads every example and keyword (about 50 ms of CPU); a call
    must not spend that on the event loop that carries other calls' audio.
    Matching only reads it (its spelling cache is shared, and bounded).
    """
    return _matcher(json.dumps([i.model_dump() for i in intents], sort_keys=True))


@lru_cache(maxsize=32)
def _matcher(intents_json: str) -> IntentMatcher:
    return IntentMatcher([Intent.model_validate(i) for i in json.loads(intents_json)])
