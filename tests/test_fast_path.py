"""The GPU fast-path switches of a recipe's train section: what each turns into, and what they refuse."""

from __future__ import annotations

from llmkit.config.sections import TrainSection
from llmkit.training.trainer import liger_enabled, training_arguments


def test_cpu_gets_no_gpu_kernels(tmp_path):
    args = training_arguments(TrainSection(), tmp_path)
    assert args.optim == "adamw_torch" and not args.bf16 and not args.use_liger_kernel and not args.torch_compile


def test_liger_stays_off_under_torch_compile(capsys):
    assert not liger_enabled(TrainSection(liger=True, torch_compile=True))
    assert "do not compile" in capsys.readouterr().out


def test_liger_switch_and_missing_package(monkeypatch, capsys):
    import transformers.utils

    assert not liger_enabled(TrainSection(liger=False))
    monkeypatch.setattr(transformers.utils, "is_liger_kernel_available", lambda: False)
    assert not liger_enabled(TrainSection(liger=True))
    assert "liger-kernel is not installed" in capsys.readouterr().out
    monkeypatch.setattr(transformers.utils, "is_liger_kernel_available", lambda: True)
    assert liger_enabled(TrainSection(liger=True))


def test_model_attention_picks_the_kernel(tiny_base):
    from llmkit.models.loading import load_model

    assert load_model(str(tiny_base), attention="eager").config._attn_implementation == "eager"
    assert load_model(str(tiny_base), attention="sdpa").config._attn_implementation == "sdpa"
