"""Split the labelled sets once into a development half and a held-out half (seeded, stratified).

Run once when the labelled set was written; the halves are committed and never
re-drawn, so a change tuned on dev cannot leak into held-out by a new split.
``python -m benchmarks.understanding.split --check`` verifies that the
committed halves are the ones this split gives.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).parent / "data"
SEED = 15  # the number; chosen before any result was seen
SETS = {"intents": ("intent", "lang"), "slots": ("asking", "lang")}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split(rows: list[dict], keys: tuple[str, ...], seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """Each stratum (e.g. intent x language) shuffled with ``seed`` and dealt alternately to dev and held-out."""
    strata: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        strata[tuple(row[k] for k in keys)].append(row)
    rng = random.Random(seed)
    dev: list[dict] = []
    held: list[dict] = []
    for stratum in sorted(strata):
        members = sorted(strata[stratum], key=lambda r: r["id"])
        rng.shuffle(members)
        for index, row in enumerate(members):
            (dev if index % 2 == 0 else held).append(row)
    return sorted(dev, key=lambda r: r["id"]), sorted(held, key=lambda r: r["id"])


def dump(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the committed halves")
    args = parser.parse_args(argv)
    for name, keys in SETS.items():
        dev, held = split(read(DATA / f"{name}.all.jsonl"), keys)
        for half, rows in (("dev", dev), ("heldout", held)):
            path = DATA / f"{name}.{half}.jsonl"
            if args.check:
                if not path.exists() or path.read_text(encoding="utf-8") != dump(rows):
                    print(f"{path} is not the seeded split of {name}.all.jsonl", file=sys.stderr)
                    return 1
            else:
                if path.exists():
                    print(f"{path} exists: the split is drawn once; delete the halves on purpose to redraw", file=sys.stderr)
                    return 1
                path.write_text(dump(rows), encoding="utf-8")
        print(f"{name}: {len(dev)} dev, {len(held)} held-out")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
