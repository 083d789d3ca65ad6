"""Open items: generate each answer in the chat template, then score it against its references.

Each item names its reference metric (exact_match, numeric_match, rouge_l, bleu), an evaluate module
shipped in llmkit/eval/metrics and loaded by path. Items without references are left to the judge.
"""

from __future__ import annotations

from typing import Any

from llmkit.eval.generation import generate_within_budgets
from llmkit.eval.items import EvalItem
from llmkit.eval.output_cache import OutputCache
from llmkit.eval.prompts import render_open_prompt
from llmkit.eval.token_budget import budget_for


def answer_open_items(model: Any, tokenizer: Any, items: list[EvalItem], *, max_new_tokens: int, batch_size: int,
                      cache: OutputCache, budgets: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """One record per item with the prompt, the model's answer and its token budget (`budgets`: per category
    or prefix; default `max_new_tokens`). Answers end at the chat template's end-of-turn token."""
    prompts = [render_open_prompt(item, tokenizer) for item in items]
    tokens = [budget_for(item.category, max_new_tokens, budgets or {}) for item in items]
    # The chat template writes its own special tokens, so none are added around it.
    answers = generate_within_budgets(model, tokenizer, prompts, tokens, cache=cache, batch_size=batch_size,
                                      add_special_tokens=False, desc="open answers")
    return [{**item.to_record(), "history": item.history, "metric": item.metric, "prompt": prompt, "answer": answer,
             "max_new_tokens": budget} for item, prompt, answer, budget in zip(items, prompts, answers, tokens)]


def add_reference_scores(records: list[dict[str, Any]]) -> None:
    """Set record["reference_score"] (0-1) for every record with references, one module call per metric."""
    from llmkit.eval.metrics import load_metric

    by_metric: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record["references"]:
            by_metric.setdefault(record["metric"], []).append(record)
    for name, group in by_metric.items():
        result = load_metric(name).compute(predictions=[r["answer"] for r in group],
                                           references=[r["references"] for r in group])
        for record, score in zip(group, result["scores"]):
            record["reference_score"] = score
