"""Fine-tuning survives faults: a run killed with SIGKILL resumes to the same losses and weights, Ctrl-C stops
cleanly with a checkpoint and exit code 130, and nothing reads an unfinished output as a finished model."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_methods import LEARNING_RATES as METHOD_LEARNING_RATES

from llmkit.errors import LlmkitError

# One thread: the uninterrupted and the resumed run must do the same arithmetic to match bit for bit.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
LEARNING_RATES = {"lora": "1e-3", "prompt": "1e-1", "adapter": "1e-3"}


def _args(base: Path, method: str, steps: int, *extra: str) -> list[str]:
    return ["finetune", "--model", str(base), "--method", method, "--max-steps", str(steps), "--batch-size", "4",
            "--lr", LEARNING_RATES[method], "--set", "train.logging_steps=1", "--set", "data.limit=64",
            "--set", "data.max_length=64", "--set", "eval.limit=0", *extra]


def _llmkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmkit", *args], capture_output=True, text=True, env=ENV,
                          timeout=600)


def _start(*args: str, stdout: int = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "llmkit", *args], stdout=stdout,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def _wait_for(condition, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the run ended before the test could stop it: {process.stderr.read()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _has_checkpoint(output: Path) -> bool:
    folder = output / "checkpoints"
    return folder.is_dir() and any(p.name.startswith("step-") and not p.name.endswith(".partial")
                                   for p in folder.iterdir())


def _losses(output: Path) -> list[float]:
    return [e["loss"] for e in json.loads((output / "loss_history.json").read_text()) if "loss" in e]


def _weights(output: Path) -> dict:
    return {f"{f.name}:{k}": v for f in sorted(output.glob("*.safetensors")) for k, v in load_file(f).items()}


def _record(output: Path) -> dict:
    return json.loads((output / "llmkit_run.json").read_text())


def _one_line_error(result: subprocess.CompletedProcess, code: int, prefix: str) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert result.returncode == code and "Traceback" not in result.stderr, result.stderr
    assert lines[-1].startswith(prefix), result.stderr
    return lines[-1]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "prompt", "adapter"])
def test_a_killed_run_resumes_to_the_same_losses_and_weights(family_base, tmp_path, method):
    base = family_base("llama")
    args = _args(base, method, 200, "--set", "train.save_steps=5")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert _llmkit(*args, "--output", str(whole)).returncode == 0

    run = _start(*args, "--output", str(killed))
    _wait_for(lambda: _has_checkpoint(killed), run)
    run.send_signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL

    # The killed output is recognised as unfinished, with the way on.
    refused = _one_line_error(_llmkit("merge", str(killed), "--output", str(tmp_path / "m")), 2, "error: ")
    assert "not a finished run" in refused and "--resume" in refused

    resumed = _llmkit("finetune", "--resume", str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert _losses(killed) == _losses(whole) and len(_losses(whole)) == 200
    assert _weights(killed).keys() == _weights(whole).keys()
    assert all((a == b).all() for a, b in zip(_weights(killed).values(), _weights(whole).values()))
    record = _record(killed)
    assert record["status"] == "finished" and "checkpoints/step-" in record["resumed_from"]
    assert not (killed / "checkpoints").exists()  # a finished run needs none


def test_ctrl_c_stops_with_a_checkpoint_and_exit_code_130_and_the_folder_is_locked(family_base, tmp_path):
    output = tmp_path / "out"
    run = _start(*_args(family_base("llama"), "lora", 100000, "--output", str(output)), stdout=subprocess.PIPE)
    # Training has begun, and the Ctrl-C handler is in place, once Trainer prints its first loss (logging_steps=1).
    # The record's tokenising time came earlier, before the model and Trainer are built: a SIGINT sent then, on
    # a loaded machine, met no handler of ours.
    assert any("'loss'" in line for line in run.stdout), "the run ended before it logged a loss"
    # A second run into the same folder stops at once, naming the holder, and deletes nothing.
    second = _llmkit(*_args(family_base("llama"), "lora", 1, "--output", str(output), "--overwrite"))
    line = _one_line_error(second, 2, "error: ")
    assert f"in use by another llmkit run (process {run.pid})" in line
    time.sleep(2)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 130 and "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: stopped at step ") and f"llmkit finetune --resume {output}" in last

    record = _record(output)
    assert record["status"] == "interrupted" and record["step"] > 0
    assert (output / "checkpoints" / f"step-{record['step']}" / "trainable_weights.safetensors").is_file()
    assert not (output / "llmkit_finetune.json").exists()  # nothing that loads as a finished adapter
    refused = _one_line_error(_llmkit("merge", str(output), "--output", str(tmp_path / "m")), 2, "error: ")
    assert f"was interrupted at step {record['step']}" in refused


def test_resume_without_a_checkpoint_is_one_line(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "llmkit_recipe.yaml").write_text("method: lora\n")
    line = _one_line_error(_llmkit("finetune", "--resume", str(output)), 2, "error: ")
    assert "no checkpoint" in line and "train.save_steps" in line


def test_two_runs_with_the_same_seed_log_the_same_losses_and_end_with_the_same_weights(family_base, tmp_path):
    # Separate processes (each with its own hash seed), the built-in task's data, dropout in the adapter.
    outputs = [tmp_path / "first", tmp_path / "second"]
    for output in outputs:
        result = _llmkit(*_args(family_base("llama"), "lora", 6, "--output", str(output), "--set", "lora.dropout=0.1"))
        assert result.returncode == 0, result.stderr[-2000:]
    assert len(_losses(outputs[0])) == 6 and _losses(outputs[0]) == _losses(outputs[1])
    first, second = _weights(outputs[0]), _weights(outputs[1])
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_a_full_disk_while_saving_is_one_error_and_no_loadable_output(family_base, tmp_path, monkeypatch):
    from llmkit.config import build_config
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.models.finetuned import load_finetuned
    from llmkit.workflows import finetune

    save_format_of = finetune.save_format_of

    def disk_full_after_the_weights(method, model):  # the adapter is written, then the disk fills up
        form = save_format_of(method, model)

        def save(trained, folder):
            form.save(trained, folder)
            raise OSError(errno.ENOSPC, "No space left on device")

        return dataclasses.replace(form, save=save)

    monkeypatch.setattr(finetune, "save_format_of", disk_full_after_the_weights)
    output = tmp_path / "out"
    cfg = build_config(FinetuneConfig, {"model": {"path": str(family_base("llama"))}, "output": str(output),
                                        "data": {"limit": 8, "max_length": 64}, "eval": {"limit": 0},
                                        "train": {"max_steps": 2, "batch_size": 4}})
    with pytest.raises(LlmkitError, match="No space left on device"):
        finetune.run(cfg)
    assert _record(output)["status"] == "failed"
    with pytest.raises(LlmkitError, match="not a finished run: it failed"):
        load_finetuned(output)
    # Nor does plain peft / transformers find a model there: the weights written never left the staging folder.
    # (The last step's checkpoint stays, for a resume once there is space.)
    assert sorted(p.name for p in output.iterdir()) == ["checkpoints", "llmkit_recipe.yaml", "llmkit_run.json"]


def test_too_little_free_space_stops_the_run_before_training(family_base, tmp_path, monkeypatch):
    import shutil

    from llmkit import run_dir
    from llmkit.config import build_config
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.workflows import finetune

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(run_dir.shutil, "disk_usage", lambda path: usage._replace(free=100_000))
    output = tmp_path / "out"
    cfg = build_config(FinetuneConfig, {"model": {"path": str(family_base("llama"))}, "output": str(output),
                                        "method": "full", "data": {"limit": 8, "max_length": 64},
                                        "train": {"max_steps": 2, "batch_size": 4}})
    with pytest.raises(LlmkitError, match=r"has 97.7 KiB free, and the trained weights and their checkpoints "
                                          r"need about \d+\.\d MiB"):
        finetune.run(cfg)
    assert not (output / "checkpoints").exists()  # training never started


def test_refused_rows_are_named_in_the_run_record(family_base, tmp_path):
    from llmkit.config import build_config
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.workflows import finetune

    data = tmp_path / "mixed.jsonl"
    rows = [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(6)]
    rows[2] = {"instruction": "q", "output": None}
    rows[4] = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    output = tmp_path / "out"
    finetune.run(build_config(FinetuneConfig, {
        "model": {"path": str(family_base("llama"))}, "data": {"path": str(data), "max_length": 64},
        "output": str(output), "eval": {"limit": 0}, "train": {"max_steps": 1, "batch_size": 4}}))
    record = _record(output)
    assert [(r["line"], r["reason"]) for r in record["refused_rows"]] == [
        (3, "'output' is null or missing, not a string"),
        (5, "the row is in the messages form, not the file's alpaca form")]
    assert record["data"]["examples"] == 4 and record["status"] == "finished"


@pytest.mark.parametrize("method", ["full", "freeze", "lora", "dora", "qlora", "adalora", "adapter", "prefix",
                                    "prompt", "ptuning", "ptuning-v2"])
def test_every_method_resumes_exactly_after_an_interrupt(family_base, tmp_path, monkeypatch, method):
    from llmkit.config import build_config
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.errors import RunInterrupted
    from llmkit.training.resumable import StopOnInterrupt
    from llmkit.workflows import finetune

    def cfg(output: Path, **extra) -> FinetuneConfig:
        return build_config(FinetuneConfig, {
            "method": method, "model": {"path": str(family_base("llama"))}, "output": str(output),
            "data": {"limit": 32, "max_length": 64}, "eval": {"limit": 0}, "adalora": {"delta_t": 2},
            "train": {"max_steps": 16, "batch_size": 4, "lr": METHOD_LEARNING_RATES.get(method, 1e-2),
                      "logging_steps": 1}},
            extra)

    whole = finetune.run(cfg(tmp_path / "whole"))
    original = StopOnInterrupt.on_step_end

    def ctrl_c_at_step_7(self, args, state, control, **kwargs):
        self.requested = self.requested or state.global_step == 7
        original(self, args, state, control, **kwargs)

    monkeypatch.setattr(StopOnInterrupt, "on_step_end", ctrl_c_at_step_7)
    with pytest.raises(RunInterrupted, match="stopped at step 7 of 16"):
        finetune.run(cfg(tmp_path / "cut"))
    monkeypatch.setattr(StopOnInterrupt, "on_step_end", original)
    resumed = finetune.run(cfg(tmp_path / "cut", resume=True))

    assert _losses(tmp_path / "cut") == _losses(tmp_path / "whole")
    for (name, a), (_, b) in zip(sorted(whole["model"].state_dict().items()),
                                 sorted(resumed["model"].state_dict().items())):
        assert torch.equal(a, b), name
    if method == "adalora":  # the rank schedule continued where it stopped
        assert _record(tmp_path / "cut")["adalora_final_ranks"] == _record(tmp_path / "whole")["adalora_final_ranks"]
