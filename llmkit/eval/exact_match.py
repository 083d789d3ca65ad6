"""Score a chat model by exact match of its greedy answers against reference answers."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from llmkit.data.chat import turn_end_token_ids


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
    """Greedy answers to chat prompts, batched with left padding (so every prompt ends where answers start)."""
    import torch
    from tqdm.auto import tqdm

    stop_ids = turn_end_token_ids(tokenizer)
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    answers: list[str] = []
    was_training = model.training
    model.eval()
    try:
        for start in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch", leave=False):
            texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                     for p in prompts[start:start + batch_size]]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            batch = batch.to(model.device)
            with torch.no_grad():
                output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                        eos_token_id=stop_ids, pad_token_id=tokenizer.pad_token_id)
            new_tokens = output[:, batch["input_ids"].shape[1]:]
            answers += tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return [a.strip() for a in answers]


def score_exact_match(model: Any, tokenizer: Any, conversations: list[list[dict[str, str]]], *,
                      max_new_tokens: int, batch_size: int, desc: str) -> tuple[float, list[ScoredAnswer]]:
    """Ask each conversation's last user turn; compare with its final assistant turn. Returns (accuracy %, items)."""
    prompts = [c[:-1] for c in conversations]
    predictions = generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                                   batch_size=batch_size, desc=desc)
    items = [ScoredAnswer(p, c[-1]["content"], pred) for p, c, pred in zip(prompts, conversations, predictions)]
    accuracy = 100.0 * sum(item.correct for item in items) / len(items) if items else 0.0
    return accuracy, items
