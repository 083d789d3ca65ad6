"""A tiny run of the whole path: pretrain -> LoRA fine-tune -> reload with plain peft -> merge -> chat."""

import json
import os
import subprocess
import sys

import pytest
import torch

TINY_PRETRAIN = ["--set", "corpus.builtin_documents=300", "--set", "tokenizer.vocab_size=400",
                 "--set", "arch.hidden_size=32", "--set", "arch.layers=1", "--set", "arch.heads=2",
                 "--set", "arch.intermediate_size=64", "--set", "train.batch_size=8",
                 "--set", "train.logging_steps=2"]


def llmkit(*args):
    result = subprocess.run([sys.executable, "-m", "llmkit", *map(str, args)], capture_output=True,
                            text=True, env=os.environ.copy(), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    llmkit("pretrain", *TINY_PRETRAIN, "--output", root / "base")
    rows = [{"instruction": f"{n}千米是多少米？", "input": "", "output": f"{n * 1000}"} for n in range(1, 60)]
    (root / "train.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:50]))
    (root / "eval.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows[50:]))
    llmkit("finetune", "--method", "lora", "--model", root / "base", "--data", root / "train.jsonl",
           "--eval-data", root / "eval.jsonl", "--max-steps", 12, "--batch-size", 8, "--lr", 5e-3,
           "--output", root / "ft", "--set", "train.logging_steps=2", "--set", "eval.max_new_tokens=6",
           "--report-to", "tensorboard")
    return root


def test_pretrain_output_loads_with_auto_classes(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(trained / "base")
    tokenizer = AutoTokenizer.from_pretrained(trained / "base")
    assert model.config.model_type == "llama"
    text = "三百四十七 is 347."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    record = json.loads((trained / "base" / "llmkit_run.json").read_text())
    assert record["metrics"]["eval_perplexity"] > 1 and record["metrics"]["tokens_per_second"] > 0


def test_finetune_writes_adapter_recipe_record_and_curve(trained):
    out = trained / "ft"
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "llmkit_recipe.yaml",
                 "llmkit_run.json", "loss_curve.png", "predictions.jsonl"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.bin"))  # safetensors only
    record = json.loads((out / "llmkit_run.json").read_text())
    metrics = record["metrics"]
    assert record["config"]["method"] == "lora" and record["versions"]["peft"]
    assert metrics["steps"] == 12 and metrics["tokens_per_second"] > 0
    assert 0 < metrics["trainable_parameters"] < metrics["total_parameters"]
    assert {"exact_match_before", "exact_match_after", "train", "tokenize"} <= set(metrics) | set(
        record["timings_s"])
    losses = [e["loss"] for e in json.loads((out / "loss_history.json").read_text()) if "loss" in e]
    assert losses[-1] < losses[0]
    assert sum(1 for _ in (out / "predictions.jsonl").open()) == 9
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))  # --report-to tensorboard


def test_plain_peft_reload_gives_the_same_logits(trained):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from llmkit.models.finetuned import load_finetuned

    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(trained / "base"), trained / "ft")
    ours, _ = load_finetuned(str(trained / "ft"))
    ids = torch.tensor([[5, 9, 40, 7, 100, 3]])
    with torch.no_grad():
        expected = plain.eval()(input_ids=ids).logits
        torch.testing.assert_close(ours.eval()(input_ids=ids).logits, expected)
        # and the adapter changed the model: it is not the base
        base = AutoModelForCausalLM.from_pretrained(trained / "base").eval()(input_ids=ids).logits
        assert (base - expected).abs().max() > 1e-4


def test_merge_gives_a_standalone_model_with_the_same_logits(trained):
    from transformers import AutoModelForCausalLM

    from llmkit.models.finetuned import load_finetuned

    llmkit("merge", trained / "ft", "--output", trained / "merged")
    merged = AutoModelForCausalLM.from_pretrained(trained / "merged").eval()
    adapted, _ = load_finetuned(str(trained / "ft"))
    ids = torch.tensor([[5, 9, 40, 7, 100, 3]])
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=ids).logits, adapted.eval()(input_ids=ids).logits,
                                   atol=1e-4, rtol=1e-4)
    assert (trained / "merged" / "tokenizer.json").is_file()


def test_chat_one_shot_streams_the_greedy_answer(trained):
    from llmkit.eval.answer_scoring import generate_answers
    from llmkit.models.finetuned import load_finetuned

    question = "55千米是多少米？"
    result = llmkit("chat", trained / "ft", "--prompt", question, "--max-new-tokens", 6)
    model, tokenizer = load_finetuned(str(trained / "ft"))
    [expected] = generate_answers(model, tokenizer, [[{"role": "user", "content": question}]],
                                  max_new_tokens=6, batch_size=1)
    # The last line printed is the answer; a tiny model may answer with nothing at all (no line).
    printed = result.stdout.strip().splitlines()
    assert (printed[-1].strip() if printed else "") == expected


def test_chat_interactive_reads_until_eof(trained):
    result = subprocess.run([sys.executable, "-m", "llmkit", "chat", str(trained / "ft"), "--max-new-tokens", "4"],
                            input="12千米是多少米？\nclear\n", capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("you>") == 3 and "assistant>" in result.stdout
