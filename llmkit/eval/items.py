"""What a benchmark is made of: items (choice or open), the shots that precede them, and notes on its rows."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any, Literal

LETTERS = string.ascii_uppercase


def in_category(category: str, wanted: str) -> bool:
    """Whether `wanted` names `category`: the category itself, or a prefix such as `ceval/`."""
    return category == wanted or category.startswith(wanted.rstrip("/") + "/")


@dataclass
class EvalItem:
    """One question. `choice` items have options and an answer letter; `open` items have references (maybe none).

    `prompt_style` names the wording the question is asked in (llmkit, ceval, cmmlu, mmlu), `subject` the
    exam subject that wording mentions. `history` holds earlier turns of a multi-turn item, as chat messages.
    `metric` is the reference metric that scores an open item (exact_match, numeric_match, rouge_l, bleu).
    """

    id: str
    category: str
    type: Literal["choice", "open"]
    question: str
    options: list[str] = field(default_factory=list)
    answer: str | None = None
    references: list[str] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    metric: str = "rouge_l"
    prompt_style: str = "llmkit"
    subject: str = ""
    source: str = ""  # file:line, for messages about the item

    @property
    def letters(self) -> list[str]:
        return list(LETTERS[:len(self.options)])

    @property
    def answer_index(self) -> int:
        return self.letters.index(self.answer)

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "type": self.type, "question": self.question,
                "options": self.options, "answer": self.answer, "references": self.references}


@dataclass
class RowNote:
    """A row of a benchmark file worth a word: where it is and what is wrong, so the user can fix the file."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class Benchmark:
    """Items to score, shots per category (k-shot prompts take the first k), the rows skipped on the way, and
    the rows scored as they are though something looks wrong (`warnings`: an empty option)."""

    items: list[EvalItem] = field(default_factory=list)
    shots: dict[str, list[EvalItem]] = field(default_factory=dict)
    skipped: list[RowNote] = field(default_factory=list)
    warnings: list[RowNote] = field(default_factory=list)

    def extend(self, other: Benchmark) -> None:
        self.items += other.items
        for category, shots in other.shots.items():
            self.shots.setdefault(category, []).extend(shots)
        self.skipped += other.skipped
        self.warnings += other.warnings
