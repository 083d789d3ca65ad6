"""Shared fixtures: a tiny tokenizer and LLaMA built in the test (no download), isolated caches."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    # Nothing a test does may touch the user's caches or reach the network.
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("LLMKIT_CACHE", str(cache / "llmkit"))
    monkeypatch.setenv("HF_HOME", str(cache / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


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
