"""llmkit's built-in bilingual instruction dataset: questions about the demo facts, with a fixed split."""

from __future__ import annotations

import random
from typing import Any

from llmkit.data.demo_facts import all_facts, balanced_sample

TRAIN_EXAMPLES = 4000


def demo_task_split(split: str, n: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Chat examples `{"messages": [...], "kind": ..., "lang": ...}` for split "train" or "test".

    The split is fixed by the facts' hashes; `n` and `seed` only choose which examples of that split.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, got {split!r}")
    facts = [f for f in all_facts() if f.is_test == (split == "test")]
    n = n or (TRAIN_EXAMPLES if split == "train" else len(facts))
    if split == "train":
        # Each training fact is asked several times, in its different phrasings.
        facts = facts * -(-n // len(facts))
    rng = random.Random(seed)
    examples = []
    for fact in balanced_sample(facts, n, seed):
        question = rng.choice(fact.questions)
        examples.append({
            "messages": [{"role": "user", "content": question},
                         {"role": "assistant", "content": fact.answer}],
            "kind": fact.kind,
            "lang": fact.lang,
        })
    return examples
