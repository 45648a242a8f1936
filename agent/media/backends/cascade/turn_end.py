"""Does a transcript read like a finished turn? The cascade's early, transcript-judged end of turn.

The cascade transcribes what the caller said up to a short pause
(``pause_ms``) and answers at once if the words read finished, instead of
waiting out the full silence (``turn_end_ms``). A wrong "finished" answers
into the caller's pause and cuts them off; a wrong "not finished" only
costs the wait that every turn had before. So the judgement leans to "not
finished":

* It must end with ``.``, ``?`` or ``!``. Whisper and OpenAI's transcription
  models punctuate; a server that never does gives no sign of an end, and the
  turn then waits for full silence (the cascade behaves as it did without
  this).
* Not with a trailing-off or a continuation mark: ``...``, ``…``, ``,``,
  ``-``, ``:``, ``;``.
* Not with a word that needs another after it, which a transcription model
  still ends with a full stop when the audio stops ("My name is.", "Ich rufe
  an wegen der."): conjunctions, articles, prepositions, possessives,
  auxiliaries and fillers, English and German.

A pure function of the text, no model: it costs microseconds once per
transcript, where stock Pipecat's smart-turn model costs 180–260 ms of CPU
per turn (benchmarks/README.md, "Issue 13 item 6").
"""

from __future__ import annotations

import re

ENDS = (".", "?", "!")
OPEN_ENDS = ("...", "…", ",", "-", "–", "—", ":", ";")
CLOSERS = "\"'”’»«)]"  # quotes and brackets after the final mark: "He said 'stop.'"

DANGLING_EN = frozenset({
    "and", "or", "but", "so", "because", "if", "than", "that", "which", "who", "whose", "when", "where", "while", "although", "though", "since", "until", "unless", "whether", "nor",
    "the", "a", "an", "to", "of", "for", "with", "at", "in", "on", "from", "by", "about", "into", "onto", "upon", "as", "per", "via", "without", "between",
    "my", "our", "your", "his", "their", "its",
    "is", "are", "was", "were", "am", "been", "being",
    "um", "uh", "uhm", "erm", "er", "hmm", "mm", "like",
    "mr", "mrs", "ms", "dr", "prof", "st",
})
DANGLING_DE = frozenset({
    "und", "oder", "aber", "weil", "dass", "denn", "wenn", "ob", "sondern", "sowie", "als", "bevor", "nachdem", "obwohl", "damit",
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines",
    "mit", "für", "zu", "zum", "zur", "von", "vom", "bei", "beim", "auf", "an", "am", "im", "in", "nach", "aus", "über", "unter", "um", "gegen", "ohne", "durch", "seit",
    "mein", "meine", "meinen", "meinem", "meiner", "unser", "unsere", "unseren", "unserem", "unserer", "dein", "deine", "sein", "seine", "ihr", "ihre",
    "ist", "sind", "bin", "bist", "war", "waren", "wird", "werden",
    "ähm", "äh", "öh", "ähh", "hm", "also",
    "herr", "frau",
})
DANGLING = DANGLING_EN | DANGLING_DE

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def reads_finished(text: str) -> bool:
    """True if ``text`` ends like a finished sentence (see the module's doc), English or German."""
    text = text.rstrip().rstrip(CLOSERS).rstrip()
    if not text.endswith(ENDS) or text.endswith(OPEN_ENDS):
        return False
    words = _WORD.findall(text[-60:])
    return bool(words) and words[-1].lower() not in DANGLING
