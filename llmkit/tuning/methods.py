"""The method table: `--method NAME` -> what it trains, its learning rate, how to wrap the model, how to save
and reload it.

A new method is one entry here, its hyperparameter section in config.py, and its builder (in
peft_methods.py when peft has it, or its own file when it does not: freeze.py, bottleneck.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from llmkit.errors import LlmkitError
from llmkit.tuning import freeze, peft_methods

# How a method's output is saved and reloaded:
#   adapter      peft's adapter folder (adapter_config.json + adapter_model.safetensors)
#   model        a whole model folder that AutoModel* loads
#   trained      only the tensors that were trained (trained_weights.safetensors), applied to the base
#   bottleneck   llmkit's bottleneck adapters (bottleneck_adapter.safetensors + bottleneck_config.json)
SaveKind = Literal["adapter", "model", "trained", "bottleneck"]


@dataclass(frozen=True)
class Method:
    name: str
    help: str
    paper: str
    section: str | None  # the recipe section holding its hyperparameters
    build: Callable[[Any, Any, Any], Any]  # (base model, FinetuneConfig, BuildContext) -> model to train
    saves: SaveKind
    merge: str  # "yes", or why merging is not defined
    # The peak learning rate when neither a recipe nor --lr sets one. Measured on SmolLM2-135M-Instruct
    # (`python bench/methods.py --part real`, README): weight updates want small steps, methods that steer
    # a frozen model through a few virtual tokens want steps 10-1000x larger.
    lr: float
    # Methods that prepend virtual tokens cannot share a row between examples (the prompt would come
    # once per row), and prefixes enter as a KV cache, which turns off packed attention masks.
    packing: bool = True
    gradient_checkpointing: bool = True
    quantized_base: bool = False
    target_key: str | None = None  # the recipe key --target sets
    # from_pretrained kwargs the base needs for this method: (FinetuneConfig, Family | None) -> kwargs
    load_kwargs: Callable[[Any, Any], dict[str, Any]] | None = None

    @property
    def mergeable(self) -> bool:
        return self.merge == "yes"


def _build_full(model: Any, cfg: Any, ctx: Any) -> Any:
    for param in model.parameters():
        param.requires_grad = True
    return model


def _build_adapter(model: Any, cfg: Any, ctx: Any) -> Any:
    from llmkit.tuning.bottleneck import build_bottleneck

    return build_bottleneck(model, cfg, ctx)


_VIRTUAL = "the virtual tokens are not weights of the base model; load the adapter on its base instead"
_PREFIX_CHECKPOINTING = ("prefix tuning and P-tuning v2 do not work with gradient checkpointing (peft issue 869): "
                         "set train.gradient_checkpointing=false")

METHODS: dict[str, Method] = {m.name: m for m in [
    Method("full", "Every weight of the model.", "-", None, _build_full, "model",
           "the output is already a whole model", lr=1e-4),
    Method("freeze", "The last N transformer blocks (freeze.last_layers) and any named modules.",
           "Howard & Ruder 2018, ULMFiT (gradual unfreezing); LLaMA-Factory's freeze tuning", "freeze",
           freeze.build_freeze, "trained", "yes", lr=1e-3, target_key="freeze.modules"),
    Method("lora", "Low-rank updates W + (alpha/r)·BA on the attention and MLP projections.",
           "Hu et al. 2021, LoRA: Low-Rank Adaptation of Large Language Models", "lora",
           peft_methods.build_lora, "adapter", "yes", lr=1e-3, target_key="lora.target"),
    Method("dora", "LoRA on the direction of each weight, plus a trainable magnitude per output.",
           "Liu et al. 2024, DoRA: Weight-Decomposed Low-Rank Adaptation", "lora",
           peft_methods.build_dora, "adapter", "yes", lr=1e-3, target_key="lora.target"),
    Method("qlora", "LoRA on a 4-bit NF4 (or 8-bit) quantised, frozen base (bitsandbytes).",
           "Dettmers et al. 2023, QLoRA: Efficient Finetuning of Quantized LLMs", "qlora",
           peft_methods.build_qlora, "adapter", "yes", lr=1e-3, quantized_base=True,
           target_key="lora.target"),
    Method("adalora", "SVD-shaped LoRA whose rank budget moves to the most important modules.",
           "Zhang et al. 2023, AdaLoRA: Adaptive Budget Allocation for Parameter-Efficient Fine-Tuning",
           "adalora", peft_methods.build_adalora, "adapter", "yes", lr=1e-2, target_key="lora.target"),
    Method("adapter", "Bottleneck MLPs after the attention and FFN output projections.",
           "Houlsby et al. 2019, Parameter-Efficient Transfer Learning for NLP", "adapter", _build_adapter,
           "bottleneck", "the adapters add a non-linear layer, which no weight matrix can absorb", lr=1e-3,
           target_key="adapter.target"),
    Method("prefix", "Key/value prefixes on every layer, produced through an MLP.",
           "Li & Liang 2021, Prefix-Tuning: Optimizing Continuous Prompts for Generation", "prefix",
           peft_methods.build_prefix, "adapter", _VIRTUAL, lr=1e-3, packing=False,
           gradient_checkpointing=False),
    Method("prompt", "Soft prompt embeddings before the input (optionally initialised from text).",
           "Lester et al. 2021, The Power of Scale for Parameter-Efficient Prompt Tuning", "prompt",
           peft_methods.build_prompt, "adapter", _VIRTUAL, lr=1e-1, packing=False),
    Method("ptuning", "Virtual input tokens produced by an LSTM (or MLP) prompt encoder.",
           "Liu et al. 2021, GPT Understands, Too (P-tuning)", "ptuning",
           peft_methods.build_ptuning, "adapter", _VIRTUAL, lr=1e-2, packing=False),
    Method("ptuning-v2", "Deep prompts: trainable key/value prompts on every layer, no MLP.",
           "Liu et al. 2022, P-Tuning v2: Prompt Tuning Can Be Comparable to Fine-tuning Universally",
           "ptuning_v2", peft_methods.build_ptuning_v2, "adapter", _VIRTUAL, lr=3e-2, packing=False,
           gradient_checkpointing=False, load_kwargs=peft_methods.ptuning_v2_load_kwargs),
]}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise LlmkitError(f"unknown method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]


def with_method_lr(cfg: Any, method: Method) -> Any:
    """`cfg` with train.lr taken from the method when neither a recipe nor --lr set it (0)."""
    return cfg if cfg.train.lr else replace(cfg, train=replace(cfg.train, lr=method.lr))


def check_method_settings(method: Method, cfg: Any) -> None:
    """Refuse combinations that would fail deep inside training, before any model loads."""
    if cfg.train.gradient_checkpointing and not method.gradient_checkpointing:
        raise LlmkitError(_PREFIX_CHECKPOINTING)
    if method.quantized_base:
        from llmkit.models.quantization import check_bitsandbytes

        check_bitsandbytes()


def save_format(method: Method, model: Any) -> SaveKind:
    """How this trained model is saved: the method's format, except that a method peft would wrap but the
    model implements itself (ChatGLM's own P-tuning v2) saves just the tensors it trained."""
    if method.saves == "adapter" and not hasattr(model, "peft_config"):
        return "trained"
    return method.saves


def parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, total) parameters; 4-bit weights count as their unpacked size."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel() * (2 if getattr(p, "quant_state", None) is not None else 1)  # two 4-bit values per byte
        total += n
        trainable += n if p.requires_grad else 0
    return trainable, total
