"""OpenAI's published HTTP API contract (``openapi.json``: chat completions and transcriptions, trimmed; see
``tests/contracts/README.md``) and the example answers it documents.

Fixtures of these operations start from the spec's own examples (``x-oaiMeta.examples[].response`` of the
operation), so their source is the contract itself; a test changes only values (the text), never the shape.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.contracts.checker import Contract


def documented_answer(path: str, title: str = "Default") -> Any:
    """The example answer the spec documents for ``POST {path}`` (e.g. ``/chat/completions``), as a fresh copy."""
    operation = Contract.load("openai").raw["paths"][path]["post"]
    for example in operation["x-oaiMeta"]["examples"]:
        if example["title"] == title:
            return copy.deepcopy(json.loads(example["response"]))
    raise KeyError(f"the spec documents no example {title!r} for POST {path}")


def chat_completion(text: str | None, model: str = "gpt-5.4", finish_reason: str = "stop") -> dict[str, Any]:
    """The spec's "Default" chat completion answer, saying ``text``."""
    answer = documented_answer("/chat/completions")
    answer["model"] = model
    answer["choices"][0]["message"]["content"] = text
    answer["choices"][0]["finish_reason"] = finish_reason
    return answer
