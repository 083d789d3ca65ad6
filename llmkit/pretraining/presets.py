"""Named model shapes for `llmkit pretrain --preset NAME`; any key can still be set on its own.

A preset fills the keys a recipe leaves at 0 (arch widths, block size, vocabulary size), so
`--preset small --set arch.layers=4` is the small model with four blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from llmkit.config.pretrain import PretrainConfig
from llmkit.errors import LlmkitError


@dataclass(frozen=True)
class Shape:
    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int  # LLaMA's SwiGLU MLP has three matrices, so it gets ~2/3 of GPT-2/BERT's 4x width
    max_position_embeddings: int
    block_size: int
    vocab_size: int


def _shape(hidden: int, layers: int, heads: int, block: int, vocab: int, positions: int) -> dict[str, Shape]:
    mlp = {"gpt2": 4 * hidden, "bert": 4 * hidden, "llama": 64 * round(8 * hidden / 3 / 64)}
    return {arch: Shape(hidden, layers, heads, width, positions, block, vocab) for arch, width in mlp.items()}


PRESETS: dict[str, dict[str, Shape]] = {
    # tests and a first run on a laptop: ~1.3M parameters, learns the built-in corpus in minutes on one core
    "tiny": _shape(hidden=128, layers=4, heads=4, block=128, vocab=4096, positions=512),
    # ~9M parameters (8.7M GPT-2, 8.5M LLaMA, 8.8M BERT)
    "small": _shape(hidden=256, layers=8, heads=4, block=256, vocab=8192, positions=1024),
    # GPT-2 small (Radford et al. 2019): 124M parameters with GPT-2's 50257-token vocabulary
    "gpt2-124m": _shape(hidden=768, layers=12, heads=12, block=1024, vocab=50257, positions=1024),
}


# The peak learning rate when a recipe leaves train.lr at 0. BERT's masked LM at 3e-3 (and 2e-3) settles on
# predicting the most frequent token on the built-in corpus and never leaves it; at 1e-3 it learns.
DEFAULT_LR = {"gpt2": 3e-3, "llama": 3e-3, "bert": 1e-3}


def preset_shape(name: str, arch: str) -> Shape:
    if name not in PRESETS:
        raise LlmkitError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name][arch]


def apply_preset(cfg: PretrainConfig) -> PretrainConfig:
    """`cfg` with every arch/corpus/tokenizer key left at 0 taken from its preset, and train.lr at 0 from the
    architecture's default (the record shows the real values)."""
    shape = preset_shape(cfg.arch.preset, cfg.arch.type)
    arch = replace(cfg.arch, **{key: getattr(cfg.arch, key) or getattr(shape, key) for key in
                                ("hidden_size", "layers", "heads", "intermediate_size", "max_position_embeddings")})
    if arch.hidden_size % arch.heads:
        raise LlmkitError(f"arch.hidden_size {arch.hidden_size} is not divisible by arch.heads {arch.heads}")
    corpus = replace(cfg.corpus, block_size=cfg.corpus.block_size or shape.block_size)
    if corpus.block_size > arch.max_position_embeddings:
        raise LlmkitError(f"corpus.block_size {corpus.block_size} is longer than arch.max_position_embeddings "
                          f"{arch.max_position_embeddings}; lower one or raise the other")
    tokenizer = replace(cfg.tokenizer, vocab_size=cfg.tokenizer.vocab_size or shape.vocab_size)
    train = replace(cfg.train, lr=cfg.train.lr or DEFAULT_LR[cfg.arch.type])
    return replace(cfg, arch=arch, corpus=corpus, tokenizer=tokenizer, train=train)
