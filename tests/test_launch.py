"""Several processes: `--num-processes N` re-launches through accelerate, `torchrun` works unchanged, and a
2-rank data-parallel run over gloo equals a 1-process run at the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from llmkit.launch import accelerate_command, without_num_processes

# dropout off: the 1- and 2-process runs must compute the same function on the same batches
MLP_ON_DIGITS = ["train", "--model", "mlp", "--epochs", "1", "--set", "data.limit=1280", "--set",
                 "train.logging_steps=1", "--set", "model.options=[dropout=0]"]


def _run(args: list, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, env=env,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _losses(output: Path) -> list[float]:
    return [e["loss"] for e in json.loads((output / "loss_history.json").read_text()) if "loss" in e]


def _record(output: Path) -> dict:
    return json.loads((output / "llmkit_run.json").read_text())


def test_a_finished_command_destroys_the_process_group(tmp_path, monkeypatch):
    """Left to interpreter shutdown, gloo's threads can abort a rank that finished (pytorch issue 190489)."""
    import torch.distributed as dist

    from llmkit import cli

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    monkeypatch.setattr(sys, "argv", ["llmkit", "methods"])
    try:
        cli.main()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_the_ranks_do_not_relaunch():
    assert without_num_processes(["train", "--num-processes", "2", "--model", "mlp"]) == ["train", "--model", "mlp"]
    assert without_num_processes(["--debug", "pretrain", "--num-processes=4"]) == ["--debug", "pretrain"]
    command = accelerate_command(2, ["train"])
    # the flags verified on CPU: --multi_gpu starts real ranks, --cpu would run one process
    assert command[command.index("--num_processes") + 1] == "2" and "--multi_gpu" in command
    assert "--cpu" not in command and command[-3:] == ["-m", "llmkit", "train"]


@pytest.mark.slow
def test_two_ranks_over_gloo_match_one_process_at_the_same_global_batch(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from llmkit.cli import main

    one, two = tmp_path / "one", tmp_path / "two"
    # the single process runs here (saving a process start-up); the two ranks are real processes
    monkeypatch.setattr(sys, "argv", ["llmkit", *MLP_ON_DIGITS, "--batch-size", "64", "--output", str(one)])
    main()
    launched = _run(["-m", "llmkit", *MLP_ON_DIGITS, "--batch-size", "32", "--num-processes", "2", "--output", two])
    assert "launching 2 processes" in launched.stdout
    assert launched.stdout.count("saved to") == 1  # only rank 0 prints and saves

    single, double = _record(one)["distributed"], _record(two)["distributed"]
    assert (single["world_size"], single["global_batch_size"]) == (1, 64)
    assert (double["world_size"], double["per_device_batch_size"], double["global_batch_size"]) == (2, 32, 64)
    # two ranks ran, each trained on half of the 1,280 examples, and they ended with the same weights
    assert [r["rank"] for r in double["ranks"]] == [0, 1]
    assert [r["rows"] for r in double["ranks"]] == [640, 640] and single["ranks"][0]["rows"] == 1280
    assert double["replicas_in_sync"] is True
    assert double["ranks"][0]["weights_checksum"] == double["ranks"][1]["weights_checksum"]
    # the same 20 steps: averaged gradients over 2 x 32 equal the gradient over 64
    assert len(_losses(one)) == len(_losses(two)) == 20
    assert max(abs(a - b) for a, b in zip(_losses(one), _losses(two))) < 1e-4
    for name, tensor in load_file(one / "model.safetensors").items():
        torch.testing.assert_close(load_file(two / "model.safetensors")[name], tensor, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_finetune_runs_unchanged_under_torchrun(tmp_path, tiny_base):
    out = tmp_path / "lora"
    result = _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "llmkit",
                   "finetune", "--method", "lora", "--model", tiny_base, "--max-steps", "3", "--batch-size", "4",
                   "--set", "data.limit=48", "--set", "eval.limit=4", "--set", "train.logging_steps=1",
                   "--set", "train.save_steps=2", "--output", out])  # both ranks write into one checkpoint
    assert result.stdout.count("saved to") == 1
    assert _record(out)["status"] == "finished" and not (out / "checkpoints").exists()
    layout = _record(out)["distributed"]
    assert layout["world_size"] == 2 and layout["global_batch_size"] == 8 and layout["replicas_in_sync"] is True
    assert all(r["rows"] > 0 for r in layout["ranks"])
    assert (out / "adapter_model.safetensors").is_file() and (out / "loss_curve.png").is_file()
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 4  # rank 0 scored the held-out set


ACCELERATE_RECIPES = sorted((Path(__file__).parent.parent / "recipes" / "accelerate").glob("*.yaml"))


@pytest.mark.parametrize("recipe", ACCELERATE_RECIPES, ids=lambda p: p.stem)
def test_accelerate_recipes_are_valid_accelerate_configs(recipe):
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    config = ClusterConfig.from_yaml_file(str(recipe))  # unknown keys raise
    args, *_ = _validate_launch_command(launch_command_parser().parse_args(
        ["--config_file", str(recipe), "-m", "llmkit", "finetune"]))
    assert args.mixed_precision == "no"  # llmkit's Trainer picks bf16 itself
    assert f"--config_file recipes/accelerate/{recipe.name}" in recipe.read_text()  # the header says how to run it
    kind = recipe.stem.split("-")[0]
    if kind == "deepspeed":  # deepspeed itself is an optional extra: check what accelerate read
        assert args.use_deepspeed and args.zero_stage == int(recipe.stem[-1])
        return
    env = prepare_multi_gpu_env(args)  # what the ranks would see; checks FSDP's option combinations
    if kind == "fsdp":
        assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_SHARDING_STRATEGY"] == "FULL_SHARD"
        assert env["FSDP_STATE_DICT_TYPE"] == "FULL_STATE_DICT"  # the final save gathers a whole model
    else:
        assert args.multi_gpu and config.num_machines == (2 if kind == "two" else 1)


def test_accelerate_recipes_cover_the_issue():
    assert {p.stem for p in ACCELERATE_RECIPES} == {"ddp", "fsdp", "fsdp-qlora", "deepspeed-zero2", "deepspeed-zero3",
                                                   "two-machines"}


def test_sharded_runs_gather_weights_and_store_4bit_in_the_compute_dtype(monkeypatch, tmp_path, tiny_base):
    from llmkit.config import build_config
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.distributed import weights_are_sharded
    from llmkit.errors import LlmkitError
    from llmkit.models.quantization import quantized_load_kwargs
    from llmkit.tuning.methods.qlora import QloraSection
    from llmkit.workflows import finetune

    assert not weights_are_sharded() and "device_map" in quantized_load_kwargs(QloraSection())
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "2")
    assert not weights_are_sharded()  # ZeRO-2 keeps whole weights on every rank
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "3")
    assert weights_are_sharded()
    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED")
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    kwargs = quantized_load_kwargs(QloraSection(compute_dtype="bfloat16"))
    assert "device_map" not in kwargs and kwargs["quantization_config"].bnb_4bit_quant_storage == torch.bfloat16
    cfg = build_config(FinetuneConfig, {"method": "freeze", "model": {"path": str(tiny_base)},
                                        "output": str(tmp_path / "o")})
    with pytest.raises(LlmkitError, match="use DDP or DeepSpeed ZeRO-2"):
        finetune.run(cfg)
    assert not (tmp_path / "o").exists()
