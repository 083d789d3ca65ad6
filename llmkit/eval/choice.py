"""Scoring multiple-choice items both ways, recorded per item.

- log-likelihood (lm-evaluation-harness's `multiple_choice`): the letter whose continuation " A", " B", ...
  is most likely after the prompt; and, separately, the option whose full text is most likely, per
  character (lm-evaluation-harness's acc_norm).
- generation + extraction (SuperCLUE): greedy answer, then the letter found in it; none found is wrong.
"""

from __future__ import annotations

from typing import Any

from llmkit.config import ChoiceSection
from llmkit.eval.extraction import extract_letter
from llmkit.eval.generation import generate_texts
from llmkit.eval.items import EvalItem
from llmkit.eval.loglikelihood import score_continuations
from llmkit.eval.output_cache import OutputCache
from llmkit.eval.prompts import SHOT_DELIMITER, TARGET_DELIMITER, render_choice_prompt


def score_choice_items(model: Any, tokenizer: Any, items: list[EvalItem], shots: dict[str, list[EvalItem]],
                       cfg: ChoiceSection, *, batch_size: int, cache: OutputCache) -> list[dict[str, Any]]:
    """One record per item: the prompt, each method's prediction and whether it is right."""
    def prompts_for(answer_with_text: bool) -> list[str]:
        return [render_choice_prompt(item, shots.get(item.category, [])[:cfg.shots], tokenizer, cfg.chat_template,
                                     answer_with_text) for item in items]

    prompts = prompts_for(False)
    records = [{**item.to_record(), "prompt": prompt} for item, prompt in zip(items, prompts)]
    if "loglikelihood" in cfg.methods:
        # Option texts are scored after shots answered with their texts; without shots both prompts are one.
        text_prompts = prompts_for(True) if cfg.shots else prompts
        _add_loglikelihoods(model, tokenizer, items, prompts, text_prompts, records, batch_size, cache)
    if "generate" in cfg.methods:
        # A plain prompt is a page of exam questions: a base model writes the next one after a blank line.
        stop = () if cfg.chat_template else (SHOT_DELIMITER,)
        keys = [cache.key("generate", prompt=p, max_new_tokens=cfg.max_new_tokens, stop=stop, special_tokens=None)
                for p in prompts]
        answers = cache.fetch(keys, lambda missing: generate_texts(
            model, tokenizer, [prompts[i] for i in missing], max_new_tokens=cfg.max_new_tokens,
            batch_size=batch_size, stop=stop, desc="choice answers"))
        for item, record, answer in zip(items, records, answers):
            letter = extract_letter(answer, "".join(item.letters), item.options)
            record["generate"] = {"answer": answer, "extracted": letter, "correct": letter == item.answer}
    for record in records:
        record["correct"] = record[cfg.primary]["correct"]
        record["score"] = 100.0 * record["correct"]
    return records


def _add_loglikelihoods(model: Any, tokenizer: Any, items: list[EvalItem], prompts: list[str], text_prompts: list[str],
                        records: list[dict[str, Any]], batch_size: int, cache: OutputCache) -> None:
    pairs = []  # (context, continuation): every letter, then every option text, of every item
    for item, prompt, text_prompt in zip(items, prompts, text_prompts):
        pairs += [(prompt, TARGET_DELIMITER + letter) for letter in item.letters]
        pairs += [(text_prompt, TARGET_DELIMITER + option) for option in item.options]
    keys = [cache.key("loglikelihood", context=c, continuation=x) for c, x in pairs]
    scored = cache.fetch(keys, lambda missing: [
        [s.logprob, s.is_greedy] for s in score_continuations(
            model, tokenizer, [pairs[i] for i in missing], batch_size=batch_size, desc="log-likelihood")])
    at = 0
    for item, record in zip(items, records):
        n = len(item.options)
        letters = [s[0] for s in scored[at:at + n]]
        options = [s[0] for s in scored[at + n:at + 2 * n]]
        at += 2 * n
        # acc_norm divides by the option's length in characters, without the delimiter.
        per_char = [lp / max(1, len(text)) for lp, text in zip(options, item.options)]
        record["loglikelihood"] = _argmax_record(item, letters)
        record["loglikelihood_option"] = {**_argmax_record(item, per_char), "logprobs_raw": options}


def _argmax_record(item: EvalItem, values: list[float]) -> dict[str, Any]:
    best = max(range(len(values)), key=lambda i: values[i])  # the first of equals wins, as numpy's argmax
    return {"logprobs": values, "predicted": item.letters[best], "correct": item.letters[best] == item.answer}
