"""Adding a method or a model family is one table entry: both run through `llmkit finetune` and `llmkit merge`.

Everything a new entry needs is in this file: the method (LayerNorm tuning) and the family (Qwen3) are
registered here, and the commands run in this process, where the registrations are.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest
import torch

from llmkit.tuning.method import Method

SENTENCES = ["The movie was not good.", "问：三的中文是什么？答：三"]
SHORT_RUN = ["--max-steps", "12", "--batch-size", "8", "--set", "data.limit=16", "--set", "data.max_length=64",
             "--set", "eval.limit=0", "--set", "train.save_steps=0", "--set", "train.logging_steps=1",
             "--set", "train.scheduler=constant", "--set", "train.warmup_steps=0"]


def llmkit(monkeypatch, capsys, *args) -> tuple[int, str]:
    """Run the `llmkit` command in this process; (exit code, stderr)."""
    from llmkit.cli import main

    monkeypatch.setattr(sys, "argv", ["llmkit", *map(str, args)])
    capsys.readouterr()  # only what the command writes
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code or 0
    return code, capsys.readouterr().err


def logits(model, tokenizer) -> torch.Tensor:
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


def losses(output) -> list[float]:
    return [e["loss"] for e in json.loads((output / "loss_history.json").read_text()) if "loss" in e]


def test_a_new_method_is_one_table_entry(tiny_base, tmp_path, monkeypatch, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmkit.models.finetuned import load_finetuned
    from llmkit.tuning.methods import METHODS

    trained = {}

    def build_norms(model, cfg, ctx):
        """LayerNorm tuning (Zhao et al. 2023, Tuning LayerNorm in Attention): only the norms' gains train."""
        for name, param in model.named_parameters():
            param.requires_grad = "norm" in name
        trained["model"] = model
        return model

    monkeypatch.setitem(METHODS, "norms", Method("norms", "The RMSNorm/LayerNorm gains.", "Zhao et al. 2023",
                                                 build_norms, "trained", lr=3e-2))
    output = tmp_path / "norms"
    code, err = llmkit(monkeypatch, capsys, "finetune", "--method", "norms", "--model", tiny_base,
                       "--output", output, *SHORT_RUN)
    assert code == 0, err
    curve = losses(output)
    assert sum(curve[-3:]) < sum(curve[:3]), curve
    manifest = json.loads((output / "llmkit_finetune.json").read_text())
    assert manifest["method"] == "norms" and manifest["format"] == "trained"

    tokenizer = AutoTokenizer.from_pretrained(output)
    reloaded, _ = load_finetuned(output)
    at_end = logits(trained["model"], tokenizer)
    assert torch.equal(logits(reloaded, tokenizer), at_end)  # exactly the trained norms, the rest is the base
    assert not torch.allclose(logits(AutoModelForCausalLM.from_pretrained(tiny_base), tokenizer), at_end)

    code, err = llmkit(monkeypatch, capsys, "merge", output, "--output", tmp_path / "merged")
    assert code == 0, err
    assert torch.equal(logits(AutoModelForCausalLM.from_pretrained(tmp_path / "merged"), tokenizer), at_end)

    # A method whose format cannot merge is refused in one line that says why.
    monkeypatch.setitem(METHODS, "norms", Method("norms", "-", "-", build_norms, "trained", lr=3e-2,
                                                 merge_refusal="norm gains are kept apart for this test"))
    code, err = llmkit(monkeypatch, capsys, "merge", output, "--output", tmp_path / "refused")
    assert code == 2 and err.splitlines() == ["error: norms cannot be merged: norm gains are kept apart for this test"]


@pytest.fixture
def tiny_qwen3(tmp_path, tiny_tokenizer):
    """A model type the family table does not know yet: Qwen3 (LLaMA's projections, plus q/k norms)."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from llmkit.data.chat import turn_end_token_ids

    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
                         tie_word_embeddings=True, bos_token_id=None, eos_token_id=turn_end_token_ids(tiny_tokenizer),
                         pad_token_id=tiny_tokenizer.pad_token_id)
    path = tmp_path / "qwen3"
    Qwen3ForCausalLM(config).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


def test_a_new_family_is_one_table_entry(tiny_qwen3, tmp_path, monkeypatch, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmkit.models.finetuned import load_finetuned
    from llmkit.tuning.families import FAMILIES, Family
    from llmkit.tuning.methods import METHODS

    # Without an entry, LoRA's default targets are unknown: one line says what to do.
    code, err = llmkit(monkeypatch, capsys, "finetune", "--model", tiny_qwen3, "--output", tmp_path / "none",
                       *SHORT_RUN)
    assert code == 2 and "no default target modules for model type 'qwen3'" in err

    trained = {}
    lora = METHODS["lora"]

    def build_and_keep(model, cfg, ctx):
        trained["model"] = lora.build(model, cfg, ctx)
        return trained["model"]

    monkeypatch.setitem(METHODS, "lora", dataclasses.replace(lora, build=build_and_keep))  # to see the trained model
    monkeypatch.setitem(FAMILIES, "qwen3", Family(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), ("o_proj", "down_proj"),
        "layers"))
    output = tmp_path / "lora"
    code, err = llmkit(monkeypatch, capsys, "finetune", "--model", tiny_qwen3, "--output", output, "--lr", "1e-2",
                       *SHORT_RUN)
    assert code == 0, err
    curve = losses(output)
    assert sum(curve[-3:]) < sum(curve[:3]), curve
    adapter = json.loads((output / "adapter_config.json").read_text())
    assert sorted(adapter["target_modules"]) == sorted(FAMILIES["qwen3"].lora_targets)

    tokenizer = AutoTokenizer.from_pretrained(output)
    reloaded, _ = load_finetuned(output)
    adapted = logits(reloaded, tokenizer)
    assert torch.equal(adapted, logits(trained["model"], tokenizer))
    assert not torch.allclose(logits(AutoModelForCausalLM.from_pretrained(tiny_qwen3), tokenizer), adapted)
    code, err = llmkit(monkeypatch, capsys, "merge", output, "--output", tmp_path / "merged")
    assert code == 0, err
    merged = logits(AutoModelForCausalLM.from_pretrained(tmp_path / "merged"), tokenizer)
    assert torch.allclose(merged, adapted, atol=1e-5)  # W + BA in one matrix: float rounding only
