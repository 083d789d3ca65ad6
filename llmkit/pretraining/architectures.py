"""Models built from config for pretraining: GPT-2 and LLaMA (causal LM), BERT (masked LM).

Each is transformers' own class, so the output loads with `AutoModelForCausalLM` /
`AutoModelForMaskedLM` and fine-tunes with `llmkit finetune --model OUTPUT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.config.pretrain import ArchSection


@dataclass(frozen=True)
class Vocabulary:
    """What a model config needs from its tokenizer."""

    size: int  # tokens the tokenizer produces (the embedding may have more rows, see padded_vocab_size)
    pad_id: int
    end_ids: list[int]  # ids that end a generation: EOS and, with a chat template, the end-of-turn token

    @classmethod
    def of(cls, tokenizer: Any) -> Vocabulary:
        from llmkit.data.chat import turn_end_token_ids

        end_ids = turn_end_token_ids(tokenizer) if tokenizer.eos_token_id is not None else []
        return cls(len(tokenizer), tokenizer.pad_token_id, end_ids)


def is_masked_lm(arch: str) -> bool:
    return arch == "bert"


def padded_vocab_size(tokenizer_size: int, multiple: int) -> int:
    """Embedding rows: the tokenizer's size rounded up to a tensor-core-friendly multiple (nanoGPT's 50257 -> 50304)."""
    return -(-tokenizer_size // multiple) * multiple if multiple > 1 else tokenizer_size


def build_model(arch: ArchSection, vocab: Vocabulary, seed: int) -> Any:
    """A randomly initialised model of `arch` for `vocab`; the same seed gives the same weights."""
    import torch

    config = _config(arch, vocab)
    if arch.attention != "auto":
        config._attn_implementation = arch.attention
    torch.manual_seed(seed)
    model = _model_class(arch.type)(config)
    if not is_masked_lm(arch.type):
        model.generation_config.eos_token_id = config.eos_token_id
        model.generation_config.pad_token_id = vocab.pad_id
    return model


def _model_class(arch: str) -> Any:
    from transformers import BertForMaskedLM, GPT2LMHeadModel, LlamaForCausalLM

    return {"llama": LlamaForCausalLM, "gpt2": GPT2LMHeadModel, "bert": BertForMaskedLM}[arch]


def _config(arch: ArchSection, vocab: Vocabulary) -> Any:
    from transformers import BertConfig, GPT2Config, LlamaConfig

    vocab_size = padded_vocab_size(vocab.size, arch.pad_vocab_to)
    if arch.type == "llama":
        return LlamaConfig(
            vocab_size=vocab_size, hidden_size=arch.hidden_size, intermediate_size=arch.intermediate_size,
            num_hidden_layers=arch.layers, num_attention_heads=arch.heads, num_key_value_heads=arch.heads,
            max_position_embeddings=arch.max_position_embeddings, tie_word_embeddings=True,
            attention_dropout=arch.dropout, bos_token_id=None, eos_token_id=vocab.end_ids, pad_token_id=vocab.pad_id)
    if arch.type == "gpt2":
        return GPT2Config(
            vocab_size=vocab_size, n_embd=arch.hidden_size, n_layer=arch.layers, n_head=arch.heads,
            n_inner=arch.intermediate_size, n_positions=arch.max_position_embeddings,
            resid_pdrop=arch.dropout, embd_pdrop=arch.dropout, attn_pdrop=arch.dropout,
            bos_token_id=vocab.end_ids[0], eos_token_id=vocab.end_ids, pad_token_id=vocab.pad_id,
            tie_word_embeddings=True)
    return BertConfig(
        vocab_size=vocab_size, hidden_size=arch.hidden_size, num_hidden_layers=arch.layers,
        num_attention_heads=arch.heads, intermediate_size=arch.intermediate_size,
        max_position_embeddings=arch.max_position_embeddings, hidden_dropout_prob=arch.dropout,
        attention_probs_dropout_prob=arch.dropout, pad_token_id=vocab.pad_id, tie_word_embeddings=True)


def position_embedding_parameters(model: Any) -> int:
    """Parameters of learned position embeddings: nanoGPT leaves them out of N in its 6N flops estimate."""
    return sum(m.weight.numel() for name, m in model.named_modules()
               if name.endswith(("wpe", "position_embeddings")) and hasattr(m, "weight"))
