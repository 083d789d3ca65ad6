"""Pretraining runs: every architecture learns and loads back through the Auto classes; a run killed
mid-way and resumed gives the uninterrupted run's loss curve; the output fine-tunes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from llmkit.config import build_config
from llmkit.config.pretrain import PretrainConfig

TINY = {"corpus": {"builtin_documents": 300, "block_size": 32}, "tokenizer": {"vocab_size": 400},
        "arch": {"hidden_size": 32, "layers": 1, "heads": 2, "intermediate_size": 64, "max_position_embeddings": 64},
        "monitor": {"eval_steps": 20, "sample_steps": 20, "num_samples": 1, "sample_tokens": 4, "save_steps": 0},
        "train": {"batch_size": 8, "max_steps": 40, "logging_steps": 5, "lr": 5e-3}}


def tiny_config(tmp_path, **overrides):
    from llmkit.config import deep_merge

    return build_config(PretrainConfig, deep_merge(TINY, {"output": str(tmp_path / "out"), **overrides}))


@pytest.mark.parametrize("arch", ["gpt2", "llama", "bert"])
def test_each_architecture_learns_logs_samples_and_loads_back_with_auto_classes(tmp_path, arch):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    from llmkit.workflows import pretrain

    result = pretrain.run(tiny_config(tmp_path, arch={"type": arch}))
    out, metrics, history = result["output"], result["metrics"], result["log_history"]
    losses = [e["loss"] for e in history if "loss" in e]
    assert losses[-1] < losses[0] - 0.5
    evals = [e for e in history if "eval_loss" in e]
    assert [e["step"] for e in evals] == [20, 40] and evals[1]["eval_loss"] < evals[0]["eval_loss"]
    assert metrics["tokens_per_second"] > 0 and metrics["flops_per_token"] > 0 and "mfu" not in metrics  # CPU
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["step"] for s in samples] == [20, 40]
    assert ("filled" if arch == "bert" else "continuation") in samples[0]
    assert (out / "loss_curve.png").is_file() and not (out / "checkpoints").exists()
    record = json.loads((out / "llmkit_run.json").read_text())
    assert record["metrics"]["steady_tokens_per_second"] > 0

    auto = AutoModelForMaskedLM if arch == "bert" else AutoModelForCausalLM
    loaded = auto.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert loaded.config.model_type == arch and loaded.config.vocab_size % 64 == 0
    ids = tokenizer("问：七的英文是什么？ Q: seven", return_tensors="pt")["input_ids"]
    trained = result["model"].eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids=ids).logits, trained(input_ids=ids).logits)


def test_a_run_killed_after_a_checkpoint_resumes_onto_the_uninterrupted_loss_curve(tmp_path):
    from llmkit.workflows import pretrain

    # Dropout on, more steps than one epoch: RNG state and the data order across epochs must both resume. Losses
    # are logged every 7 steps and checkpoints written every 10, so the resumed run starts inside a logging window.
    keys = ["corpus.builtin_documents=300", "corpus.block_size=64", "tokenizer.vocab_size=400",
            "arch.type=gpt2", "arch.hidden_size=32", "arch.layers=1", "arch.heads=2", "arch.intermediate_size=64",
            "arch.max_position_embeddings=64", "arch.dropout=0.1", "train.batch_size=4", "train.max_steps=100",
            "train.logging_steps=7", "monitor.eval_steps=50", "monitor.sample_steps=0", "monitor.save_steps=10",
            "monitor.keep_checkpoints=2"]
    command = [sys.executable, "-m", "llmkit", "pretrain", "--output", str(tmp_path / "killed")]
    command += [arg for key in keys for arg in ("--set", key)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = tmp_path / "killed" / "checkpoints" / "step-10"
    deadline = time.time() + 300
    while not first.is_dir() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert first.is_dir(), process.stderr.read().decode()[-2000:]
    assert not (tmp_path / "killed" / "model.safetensors").exists()  # really killed mid-way
    # The checkpoint is what accelerate's save_state writes (weights in safetensors, optimizer, scheduler, this
    # process's RNG states), beside the loop's own state; resuming below reads it back with load_state.
    from accelerate.utils import OPTIMIZER_NAME, RNG_STATE_NAME, SAFE_WEIGHTS_NAME, SCHEDULER_NAME

    assert sorted(p.name for p in first.iterdir()) == sorted(
        [SAFE_WEIGHTS_NAME, f"{OPTIMIZER_NAME}.bin", f"{SCHEDULER_NAME}.bin", f"{RNG_STATE_NAME}_0.pkl",
         "llmkit_state.json"])
    assert json.loads((first / "llmkit_state.json").read_text())["step"] == 10

    resumed = subprocess.run([sys.executable, "-m", "llmkit", "pretrain", "--resume", str(tmp_path / "killed")],
                             env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from" in resumed.stdout
    history = json.loads((tmp_path / "killed" / "loss_history.json").read_text())

    settings = {}
    for key in keys:
        name, value = key.split("=")
        section, field = name.split(".")
        settings.setdefault(section, {})[field] = value
    uninterrupted = pretrain.run(build_config(PretrainConfig, {**settings, "output": str(tmp_path / "whole")}))

    def curve(entries):
        return [(e["step"], e.get("loss"), e.get("eval_loss")) for e in entries if "loss" in e or "eval_loss" in e]

    expected = curve(uninterrupted["log_history"])
    assert len(expected) == 14 + 1 + 2  # losses at steps 7, 14, ..., 98 and 100; validation at 50 and 100
    assert curve(history) == expected
    # Not only the logged (rounded) losses: the final weights are identical.
    from safetensors.torch import load_file

    resumed_weights = load_file(tmp_path / "killed" / "model.safetensors")
    whole_weights = load_file(tmp_path / "whole" / "model.safetensors")
    assert resumed_weights.keys() == whole_weights.keys()
    assert all(torch.equal(resumed_weights[k], whole_weights[k]) for k in whole_weights)


def test_resume_without_a_checkpoint_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "llmkit", "pretrain", "--resume", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "no llmkit_recipe.yaml there" in result.stderr


def test_pretrained_gpt2_fine_tunes_with_llmkit_finetune(tmp_path):
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.workflows import finetune, pretrain

    base = pretrain.run(tiny_config(tmp_path, arch={"type": "gpt2"}))["output"]
    rows = [{"instruction": f"{n} plus one?", "input": "", "output": str(n + 1)} for n in range(24)]
    data = tmp_path / "sft.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    cfg = build_config(FinetuneConfig, {"method": "lora", "model": {"path": str(base)}, "data": {"path": str(data)},
                                        "output": str(tmp_path / "ft"), "eval": {"limit": 0},
                                        "train": {"max_steps": 3, "batch_size": 8, "logging_steps": 1}})
    result = finetune.run(cfg)
    assert (tmp_path / "ft" / "adapter_model.safetensors").is_file()
    assert result["metrics"]["steps"] == 3
