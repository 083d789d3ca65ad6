"""What makes `llmkit eval` as cheap as lm-evaluation-harness without changing a score: the letters of one prompt
from one forward pass, each scoring mode doing only its own work, and generation that ends where its answer is
cut anyway."""

import json

import pytest

from llmkit.config import build_config
from llmkit.config.eval import EvalConfig
from llmkit.eval import loglikelihood
from llmkit.eval.encoding import encode_pair
from llmkit.eval.generation import _cut, _StopAtMarkers, generate_texts
from llmkit.eval.loglikelihood import score_continuations
from llmkit.eval.shared_prefix import MIN_SHARED_TOKENS, prefix_groups, supports_prefix_cache
from llmkit.workflows import evaluate

CONTEXT = ("以下是单项选择题，请直接给出正确答案的选项。\n\n"
           "北京是哪个国家的首都？\nA. 中国\nB. 日本\nC. 法国\nD. 美国\n答案：")


@pytest.fixture(scope="module")
def tiny(tiny_base):
    # transformers is imported here, not at collection: imported before the caches are isolated, it would put
    # the user's own module cache on sys.path for the whole test session.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_base), AutoTokenizer.from_pretrained(tiny_base)


def counting_forwards(model):
    calls = []
    handle = model.register_forward_hook(lambda module, args, kwargs, out: calls.append(1), with_kwargs=True)
    return calls, handle


def model_inputs(tokenizer, pairs):
    """The distinct token rows the model must see for `pairs`: context and continuation but its last token."""
    rows = set()
    for context, continuation in pairs:
        context_ids, continuation_ids = encode_pair(tokenizer, context, continuation)
        rows.add(tuple(context_ids + continuation_ids[:-1]))
    return rows


def test_the_letters_of_one_prompt_share_a_forward(tiny):
    model, tokenizer = tiny
    pairs = [(CONTEXT, " " + letter) for letter in "ABCD"]
    # A real tokenizer has one token for each of " A".." D": one row for all four. This tiny one spells
    # " A", " B" and " D" as a space and the letter (one row: the context and the space) and has " C".
    assert len(model_inputs(tokenizer, pairs)) == 2
    calls, handle = counting_forwards(model)
    together = score_continuations(model, tokenizer, pairs, batch_size=1)
    assert len(calls) == 1 + 2  # the context the two rows share, then one forward per row, not per letter
    separate = [score_continuations(model, tokenizer, [pair], batch_size=1)[0] for pair in pairs]
    handle.remove()
    assert len(calls) == 3 + 4  # a row alone shares nothing: one forward
    assert [c.logprob for c in together] == pytest.approx([c.logprob for c in separate], abs=1e-5)
    assert [c.tokens for c in together] == [2, 2, 1, 2]
    # Multi-token continuations of the same context are different inputs: one row each.
    texts = [(CONTEXT, " 中国"), (CONTEXT, " 日本"), (CONTEXT, " A")]
    calls, handle = counting_forwards(model)
    scored = score_continuations(model, tokenizer, texts, batch_size=8)
    handle.remove()
    alone = [score_continuations(model, tokenizer, [pair], batch_size=1)[0].logprob for pair in texts]
    assert [c.logprob for c in scored] == pytest.approx(alone, abs=1e-5)
    assert scored[2].logprob == pytest.approx(together[0].logprob, abs=1e-5)
    assert len(model_inputs(tokenizer, texts)) == 3 and len(calls) == 1 + 1  # the context, three rows in one batch


def few_shot_pairs():
    """Two subjects' pages of shots, three questions each, scored on letters and option texts."""
    pairs = []
    for subject in ("历史", "地理"):
        shots = "".join(f"{subject}题{n}：哪一个？\nA. 甲\nB. 乙\nC. 丙\nD. 丁\n答案：B\n\n" for n in range(3))
        for question in range(3):
            context = (f"以下是关于{subject}的单项选择题。\n\n{shots}"
                       f"问题{question}：哪一个？\nA. 甲\nB. 乙\nC. 丙\nD. 丁\n答案：")
            pairs += [(context, " " + choice) for choice in ("A", "B", "C", "D", "甲乙", "丙丁戊")]
    return pairs


def test_a_shared_few_shot_prefix_runs_once_and_changes_no_score(tiny, monkeypatch):
    model, tokenizer = tiny
    pairs = few_shot_pairs()
    tokens = []
    handle = model.register_forward_hook(lambda module, args, kwargs, out: tokens.append(kwargs["input_ids"].numel()),
                                         with_kwargs=True)
    shared = score_continuations(model, tokenizer, pairs, batch_size=4)
    shared_tokens = sum(tokens)
    tokens.clear()
    monkeypatch.setattr(loglikelihood, "supports_prefix_cache", lambda model: False)
    whole = score_continuations(model, tokenizer, pairs, batch_size=4)
    handle.remove()
    assert [c.logprob for c in shared] == pytest.approx([c.logprob for c in whole], abs=1e-5)
    assert [c.is_greedy for c in shared] == [c.is_greedy for c in whole]
    assert [c.tokens for c in shared] == [c.tokens for c in whole]
    # Each subject's page runs once instead of once per row (padding included on both sides).
    assert shared_tokens < sum(tokens) / 2


def test_a_lora_model_continues_from_the_shared_prefix_to_the_same_scores(tiny_base, monkeypatch):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_model = AutoModelForCausalLM.from_pretrained(tiny_base)
    model = get_peft_model(torch_model, LoraConfig(task_type="CAUSAL_LM", r=4, target_modules="all-linear",
                                                   init_lora_weights=False))  # weights that change the logits
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    assert supports_prefix_cache(model)
    pairs = few_shot_pairs()[:12]
    shared = score_continuations(model, tokenizer, pairs, batch_size=4)
    monkeypatch.setattr(loglikelihood, "supports_prefix_cache", lambda model: False)
    whole = score_continuations(model, tokenizer, pairs, batch_size=4)
    assert [c.logprob for c in shared] == pytest.approx([c.logprob for c in whole], abs=1e-5)


def test_prefix_groups_follow_the_subjects_and_stop_before_the_logits_read():
    header, shots_a, shots_b = (1,) * 20, (2,) * 30, (3,) * 30
    rows = [header + shots_a + (10 + n,) * 5 for n in range(3)] + [header + shots_b + (20 + n,) * 5 for n in range(2)]
    reads_from = {row: len(row) - 1 for row in rows}
    reads_from[rows[0]] = 45  # a long continuation starts inside the shared tokens: the prefix stops before it
    groups = prefix_groups(rows, reads_from)
    assert [(len(g.rows), g.shared) for g in groups] == [(3, 45), (2, 50)]
    # Rows that share fewer than MIN_SHARED_TOKENS, or a row alone, run whole.
    short = [(5,) * (MIN_SHARED_TOKENS - 1) + (n,) * 4 for n in range(2)] + [(9,) * 40]
    assert [g.shared for g in prefix_groups(short, {row: len(row) - 1 for row in short})] == [0, 0, 0]


def test_which_models_continue_from_a_cached_prefix(tiny, tiny_base):
    from peft import PrefixTuningConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM

    model, _ = tiny
    assert supports_prefix_cache(model)
    sliding = MistralForCausalLM(MistralConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                               num_attention_heads=2, num_key_value_heads=2, sliding_window=8))
    assert not supports_prefix_cache(sliding)  # its cache drops the oldest keys
    from transformers import AutoModelForCausalLM

    prefix_tuned = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_base),
                                  PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    assert not supports_prefix_cache(prefix_tuned)


def test_the_stop_rule_ends_a_row_once_its_answer_holds_the_marker(tiny):
    _, tokenizer = tiny
    texts = ["B\n\n下一题", "\n\nB", "B", "答案是 C\n\n"]
    width = 2  # two prompt tokens before each answer
    ids = [tokenizer.encode("题目", add_special_tokens=False)[:width] + tokenizer.encode(t, add_special_tokens=False)
           for t in texts]
    longest = max(map(len, ids))
    padded = [row + [tokenizer.pad_token_id] * (longest - len(row)) for row in ids]
    import torch

    done = _StopAtMarkers(tokenizer, width, ("\n\n",))(torch.tensor(padded), None)
    # Leading blank lines are not the end of an answer, as _cut reads them.
    assert done.tolist() == [True, False, False, True]
    assert [_cut(t, ("\n\n",)) for t in texts] == ["B", "B", "B", "答案是 C"]


def scripted(model, tokenizer, text):
    """Make `model` write `text` greedily, one token per step (its output head's logits overwritten)."""
    import torch

    script = tokenizer.encode(text, add_special_tokens=False)
    steps = []

    def write_next(module, args, logits):
        forced = torch.full_like(logits[:, -1], -1e4)
        forced[:, script[min(len(steps), len(script) - 1)]] = 0.0
        steps.append(1)
        logits[:, -1] = forced
        return logits

    return model.lm_head.register_forward_hook(write_next), steps


def test_generation_stops_at_the_marker_with_the_answer_it_would_have_cut_to(tiny):
    model, tokenizer = tiny
    prompt = ["问题：一加一等于几？\n答案："]
    answer = "\n\nB\n\n问题：二加二等于几？\n答案：四" * 3  # a blank line, the answer, the next question
    handle, steps = scripted(model, tokenizer, answer)
    try:
        full = generate_texts(model, tokenizer, prompt, max_new_tokens=32, batch_size=1)
        assert len(steps) == 32 and full[0].startswith("B\n\n问题")
        steps.clear()
        stopped = generate_texts(model, tokenizer, prompt, max_new_tokens=32, batch_size=1, stop=("\n\n",))
    finally:
        handle.remove()
    assert stopped == ["B"] == [_cut(full[0], ("\n\n",))]
    # It went on past the leading blank line and stopped at the one after the letter.
    written = len(tokenizer.encode("\n\nB\n\n", add_special_tokens=False))
    assert len(steps) == written < 32


def eval_config(model, output, **choice):
    return build_config(EvalConfig, {
        "model": {"path": str(model)}, "output": str(output),
        "benchmark": {"sources": ["sample"], "categories": ["logic", "knowledge"], "limit": 3, "types": ["choice"]},
        "choice": {"max_new_tokens": 6, **choice}})


def test_a_letter_loglikelihood_run_scores_the_letters_and_nothing_else(tiny_base, tmp_path, monkeypatch):
    from llmkit.eval.choice import CHOICE_SCORINGS

    monkeypatch.setenv("LLMKIT_CACHE", str(tmp_path / "cache"))  # an output cache of its own: misses are counted

    methods, primary = CHOICE_SCORINGS["loglik"]
    result = evaluate.run(eval_config(tiny_base, tmp_path / "loglik", methods=methods, primary=primary))
    records = result["records"]
    assert len(records) == 6
    assert all("loglikelihood" in r and "loglikelihood_option" not in r and "generate" not in r for r in records)
    run = json.loads((tmp_path / "loglik" / "llmkit_run.json").read_text())
    assert run["cache"]["misses"] == 4 * 6  # the four letters of each item, no option texts, no answers
    assert set(run["throughput"]) == {"choice loglikelihood"}
    assert run["throughput"]["choice loglikelihood"]["items"] == 6
    assert run["throughput"]["choice loglikelihood"]["items_per_s"] > 0
    # The default scores all three ways, and the letters it shares with the run above come from the cache.
    everything = evaluate.run(eval_config(tiny_base, tmp_path / "all"))
    run = json.loads((tmp_path / "all" / "llmkit_run.json").read_text())
    assert run["cache"]["hits"] == 4 * 6
    assert set(run["throughput"]) == {f"choice {m}" for m in CHOICE_SCORINGS["all"][0]}
    for alone, full in zip(records, everything["records"]):
        assert full["loglikelihood"] == alone["loglikelihood"]


def test_a_primary_that_is_not_computed_is_a_one_line_error(tiny_base, tmp_path):
    from llmkit.errors import LlmkitError

    with pytest.raises(LlmkitError, match="needs loglikelihood_option in choice.methods"):
        evaluate.run(eval_config(tiny_base, tmp_path / "x", methods=["loglikelihood"], primary="loglikelihood_option"))


def test_choice_scoring_loglik_from_the_command_line(tiny_base, tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "cli"
    done = subprocess.run([sys.executable, "-m", "llmkit", "eval", "--model", str(tiny_base), "--data", "sample",
                           "--categories", "logic", "--limit", "2", "--choice-scoring", "loglik", "--output", str(out)],
                          capture_output=True, text=True, env={**os.environ, "LLMKIT_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["choice_primary"] == "loglikelihood"
    assert "choice loglikelihood 2 items in" in done.stdout
    record = json.loads((out / "predictions.jsonl").read_text().splitlines()[0])
    assert record["correct"] == record["loglikelihood"]["correct"] and "generate" not in record


def test_open_answers_have_a_token_budget_per_category(tiny_base, tmp_path):
    def run(name, budgets):
        return {r["id"]: r for r in evaluate.run(build_config(EvalConfig, {
            "model": {"path": str(tiny_base)}, "output": str(tmp_path / name),
            "benchmark": {"sources": ["sample"], "categories": ["calculation", "dialogue"], "limit": 3,
                          "types": ["open"]},
            "generation": {"max_new_tokens": 8, "cache": False, "category_max_new_tokens": budgets}}))["records"]}

    short, full = run("short", ["dialogue=2"]), run("full", [])
    assert {r["category"]: r["max_new_tokens"] for r in short.values()} == {"dialogue": 2, "calculation": 8}
    for key, record in short.items():
        assert full[key]["answer"].startswith(record["answer"])  # greedy: two tokens start the eight
        if record["category"] == "calculation":
            assert record["answer"] == full[key]["answer"]
    with pytest.raises(Exception, match="generation.category_max_new_tokens entry 'dialogue'"):
        run("bad", ["dialogue"])
