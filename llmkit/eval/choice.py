"""Scoring multiple-choice items three ways, each recorded per item and each doing only its own work.

- `loglikelihood` and `loglikelihood_option` (lm-evaluation-harness's `multiple_choice`): the continuations
  " A", " B", ... after the prompt, or " " + each option's text. Each set is scored with lm-evaluation-harness's
  three accuracies: `acc` (the most likely continuation), `acc_norm` (log-likelihood divided by the choice's length in
  characters) and `acc_bytes` (divided by its length in UTF-8 bytes). The choice is the string without the
  delimiter ("A", "北京"), as lm-evaluation-harness measures it; for one-letter choices all three agree.
  The letters are decided by `acc`, the option texts by `acc_norm`.
- generation + extraction (SuperCLUE): greedy answer, then the letter found in it; no answer is wrong, and
  why there is none is recorded (llmkit/eval/extraction.py).
"""

from __future__ import annotations

import time
from typing import Any

from llmkit.config.eval import ChoiceSection
from llmkit.eval.extraction import extract_answer
from llmkit.eval.generation import generate_within_budgets
from llmkit.eval.items import EvalItem
from llmkit.eval.loglikelihood import score_continuations
from llmkit.eval.output_cache import OutputCache
from llmkit.eval.prompts import SHOT_DELIMITER, TARGET_DELIMITER, render_choice_prompt
from llmkit.eval.token_budget import budget_for

LL_METRICS = ("acc", "acc_norm", "acc_bytes")
# `--choice-scoring NAME`: (choice.methods, choice.primary). `all` is the default, SuperCLUE's way: the score
# is the generated answer's letter, which is how a chat model is used and needs no access to its logits, and
# the log-likelihoods are recorded beside it. `loglik` is what lm-evaluation-harness's C-Eval/CMMLU compute.
CHOICE_SCORINGS = {
    "all": (["loglikelihood", "loglikelihood_option", "generate"], "generate"),
    "loglik": (["loglikelihood"], "loglikelihood"),
    "loglik-option": (["loglikelihood_option"], "loglikelihood_option"),
    "generate": (["generate"], "generate"),
}


def score_choice_items(model: Any, tokenizer: Any, items: list[EvalItem], shots: dict[str, list[EvalItem]],
                       cfg: ChoiceSection, *, batch_size: int, cache: OutputCache,
                       budgets: dict[str, int] | None = None,
                       seconds: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One record per item: the prompt, the shots it had, each method's prediction and whether it is right.

    `budgets` maps a category (or prefix) to the tokens its generated answers may take (default
    `cfg.max_new_tokens`); `seconds`, when given, receives each method's wall time.
    """
    seconds = {} if seconds is None else seconds

    def prompts_for(answer_with_text: bool) -> list[str]:
        return [render_choice_prompt(item, shots.get(item.category, [])[:cfg.shots], tokenizer, cfg.chat_template,
                                     answer_with_text) for item in items]

    prompts = prompts_for(False)
    records = [{**item.to_record(), "prompt": prompt, "shots": len(shots.get(item.category, [])[:cfg.shots])}
               for item, prompt in zip(items, prompts)]
    for method in cfg.methods:
        started = time.perf_counter()
        if method == "generate":
            for record, answer in zip(records, _generate(model, tokenizer, items, prompts, cfg, budgets or {},
                                                         batch_size, cache)):
                record["generate"] = answer
        else:
            # Option texts are scored after shots answered with their texts; without shots both prompts are one.
            context = prompts_for(True) if cfg.shots and method == "loglikelihood_option" else prompts
            _add_loglikelihoods(model, tokenizer, items, context, records, method, batch_size, cache)
        seconds[method] = time.perf_counter() - started
    for record in records:
        record["correct"] = record[cfg.primary]["correct"]
        record["score"] = 100.0 * record["correct"]
    return records


def _generate(model: Any, tokenizer: Any, items: list[EvalItem], prompts: list[str], cfg: ChoiceSection,
              budgets: dict[str, int], batch_size: int, cache: OutputCache) -> list[dict[str, Any]]:
    """Each item's generated answer, the letter extracted from it (or why there is none) and its budget."""
    # A plain prompt is a page of exam questions: a base model writes the next one after a blank line.
    stop = () if cfg.chat_template else (SHOT_DELIMITER,)
    tokens = [budget_for(item.category, cfg.max_new_tokens, budgets) for item in items]
    answers = generate_within_budgets(model, tokenizer, prompts, tokens, cache=cache, batch_size=batch_size,
                                      stop=stop, desc="choice answers")
    results = []
    for item, answer, budget in zip(items, answers, tokens):
        extraction = extract_answer(answer, "".join(item.letters), item.options)
        results.append({"answer": answer, "max_new_tokens": budget, "extracted": extraction.letter,
                        "no_answer": extraction.no_answer, "correct": extraction.letter == item.answer})
    return results


def _add_loglikelihoods(model: Any, tokenizer: Any, items: list[EvalItem], prompts: list[str],
                        records: list[dict[str, Any]], method: str, batch_size: int, cache: OutputCache) -> None:
    """record["loglikelihood"] (" A".." D", decided by acc) or record["loglikelihood_option"] (" " + each option's
    text, decided by acc_norm): only the continuations of `method` are computed."""
    letters = method == "loglikelihood"
    pairs = [(prompt, TARGET_DELIMITER + choice) for item, prompt in zip(items, prompts)
             for choice in (item.letters if letters else item.options)]
    keys = [cache.key("loglikelihood", context=c, continuation=x) for c, x in pairs]
    scored = iter(cache.fetch(keys, lambda missing: [
        [s.logprob, s.is_greedy] for s in score_continuations(
            model, tokenizer, [pairs[i] for i in missing], batch_size=batch_size,
            desc="log-likelihood " + ("letters" if letters else "option texts"))]))
    for item, record in zip(items, records):
        logprobs = [next(scored)[0] for _ in item.options]
        record[method] = multiple_choice_record(item, logprobs, item.letters if letters else item.options,
                                                "acc" if letters else "acc_norm")


def multiple_choice_record(item: EvalItem, logprobs: list[float], choices: list[str],
                           decided_by: str) -> dict[str, Any]:
    """lm-evaluation-harness's acc, acc_norm and acc_bytes of one item, and the prediction `decided_by` makes.

    As in lm-evaluation-harness (api/task.py, `process_results` for multiple_choice): acc_norm divides each
    log-likelihood by len(choice), acc_bytes by len(choice.encode("utf-8")), and the first of equals wins
    (numpy's argmax). An empty choice counts as length 1 here, where lm-evaluation-harness divides by zero.
    """
    normalised = {
        "acc": logprobs,
        "acc_norm": [lp / max(1, len(c)) for lp, c in zip(logprobs, choices)],
        "acc_bytes": [lp / max(1, len(c.encode("utf-8"))) for lp, c in zip(logprobs, choices)],
    }
    picks = {metric: max(range(len(values)), key=values.__getitem__) for metric, values in normalised.items()}
    record: dict[str, Any] = {"logprobs": logprobs, "predicted": item.letters[picks[decided_by]]}
    record.update({metric: picks[metric] == item.answer_index for metric in LL_METRICS})
    record["correct"] = record[decided_by]
    return record
