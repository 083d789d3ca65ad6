"""Score a chat model by exact match of its greedy answers against reference answers."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from llmkit.eval.generation import generate_texts


@dataclass
class ScoredAnswer:
    prompt: list[dict[str, str]]
    reference: str
    prediction: str

    @property
    def correct(self) -> bool:
        return normalize_answer(self.prediction) == normalize_answer(self.reference)


def normalize_answer(text: str) -> str:
    """Compare answers modulo width (全角/半角), case, surrounding space and a final full stop."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return text.rstrip("。.!！").strip()


def generate_answers(model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]], *,
                     max_new_tokens: int, batch_size: int, desc: str = "generating") -> list[str]:
    """Greedy answers to chat prompts (the template writes any special tokens itself)."""
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    return generate_texts(model, tokenizer, texts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                          add_special_tokens=False, desc=desc)


def score_exact_match(model: Any, tokenizer: Any, conversations: list[list[dict[str, str]]], *,
                      max_new_tokens: int, batch_size: int, desc: str) -> tuple[float, list[ScoredAnswer]]:
    """Ask each conversation's last user turn; compare with its final assistant turn. Returns (accuracy %, items)."""
    prompts = [c[:-1] for c in conversations]
    predictions = generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                                   batch_size=batch_size, desc=desc)
    items = [ScoredAnswer(p, c[-1]["content"], pred) for p, c, pred in zip(prompts, conversations, predictions)]
    accuracy = 100.0 * sum(item.correct for item in items) / len(items) if items else 0.0
    return accuracy, items
