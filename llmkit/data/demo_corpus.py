"""llmkit's built-in pretraining corpus: bilingual prose generated from the demo facts.

Generated, not shipped: any number of documents, identical on every machine for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from llmkit.data.demo_facts import Fact, all_facts


def demo_documents(n_documents: int, seed: int = 0) -> Iterator[str]:
    """Documents of 3 to 8 facts; each is a prose paragraph or a question-and-answer sheet."""
    by_kind: dict[str, list[Fact]] = {}
    for fact in all_facts():
        by_kind.setdefault(fact.kind, []).append(fact)
    kinds = sorted(by_kind)
    rng = random.Random(seed)
    for _ in range(n_documents):
        # Kinds are equally frequent, however many facts each has.
        chosen = [rng.choice(by_kind[rng.choice(kinds)]) for _ in range(rng.randint(3, 8))]
        if rng.random() < 0.5:
            # Chinese prose needs no space between sentences; English does.
            sentences = [rng.choice(fact.prose) for fact in chosen]
            yield "".join(s if s.endswith("。") else s + " " for s in sentences).strip()
        else:
            yield "\n".join(_question_and_answer(fact, rng) for fact in chosen)


def _question_and_answer(fact: Fact, rng: random.Random) -> str:
    question = rng.choice(fact.questions)
    return f"问：{question}\n答：{fact.answer}" if fact.lang == "zh" else f"Q: {question}\nA: {fact.answer}"
