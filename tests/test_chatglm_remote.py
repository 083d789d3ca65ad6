"""ChatGLM2/3-style remote-code checkpoints: --trust-remote-code, the family's module names, and their own
P-tuning v2 (config.pre_seq_len). Runs a stand-in with ChatGLM's module names (tests/fake_chatglm)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from test_methods import check_trains_saves_and_reloads, run_finetune

from llmkit.errors import LlmkitError

FAKE_CODE = Path(__file__).parent / "fake_chatglm"


@pytest.fixture(scope="module")
def chatglm_base(tmp_path_factory, tiny_tokenizer):
    from fake_chatglm.configuration_chatglm import ChatGLMConfig
    from fake_chatglm.modeling_chatglm import ChatGLMForConditionalGeneration

    path = tmp_path_factory.mktemp("chatglm")
    config = ChatGLMConfig(vocab_size=len(tiny_tokenizer), pad_token_id=tiny_tokenizer.pad_token_id,
                           eos_token_id=tiny_tokenizer.eos_token_id)
    # What a real ChatGLM checkpoint's config.json says: the classes live in files next to the weights.
    config.auto_map = {"AutoConfig": "configuration_chatglm.ChatGLMConfig",
                       "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration"}
    torch.manual_seed(0)
    ChatGLMForConditionalGeneration(config).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    for name in ("configuration_chatglm.py", "modeling_chatglm.py"):
        shutil.copy(FAKE_CODE / name, path / name)
    return path


def test_remote_code_needs_the_explicit_flag(chatglm_base, tmp_path):
    with pytest.raises(LlmkitError, match="--trust-remote-code"):
        run_finetune(chatglm_base, "lora", tmp_path / "out")


@pytest.mark.parametrize("method", ["lora", "adapter", "freeze"])
def test_family_table_targets_chatglm_module_names(chatglm_base, tmp_path, method):
    result = run_finetune(chatglm_base, method, tmp_path / "out", overrides={"model": {"trust_remote_code": True}})
    check_trains_saves_and_reloads(result, method)


def test_native_ptuning_v2_trains_only_the_prefix_encoder(chatglm_base, tmp_path):
    result = run_finetune(chatglm_base, "ptuning-v2", tmp_path / "out",
                          overrides={"model": {"trust_remote_code": True}, "ptuning_v2": {"num_virtual_tokens": 8}})
    output = result["output"]
    manifest = json.loads((output / "llmkit_finetune.json").read_text())
    assert manifest["format"] == "trained"
    assert manifest["model_kwargs"] == {"pre_seq_len": 8, "prefix_projection": False}
    from safetensors.torch import load_file

    assert list(load_file(output / "trained_weights.safetensors")) == ["transformer.prefix_encoder.weight"]
    check_trains_saves_and_reloads(result, "ptuning-v2")
