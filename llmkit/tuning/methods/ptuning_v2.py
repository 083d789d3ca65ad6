"""P-tuning v2 (Liu et al. 2022): deep prompts, trainable key/value prompts on every layer, no MLP.

ChatGLM2/3's remote code has its own P-tuning v2 (config.pre_seq_len + transformer.prefix_encoder), which
is used for that family; it saves the tensors it trained (save_formats.save_format_of)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.config import option
from llmkit.tuning.context import BuildContext
from llmkit.tuning.method import Method
from llmkit.tuning.peft_wrap import PREFIX_CHECKPOINTING, VIRTUAL_TOKENS, task_type, turn_off_dropout, wrap_prefix


@dataclass
class PtuningV2Section:
    """P-tuning v2 (Liu et al. 2022): deep prompts on every layer, no reparameterisation."""

    num_virtual_tokens: int = option("Prompt length per layer (the paper: 20 for classification, up to 100 "
                                    "for hard sequence tasks; ChatGLM's example uses 128).", 20, at_least=1)


def build(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import PrefixTuningConfig

    turn_off_dropout(model)
    if ctx.family is not None and ctx.family.native_ptuning_v2:
        return _native_ptuning_v2(model)

    # P-tuning v2 is prefix tuning without the MLP: the per-layer prompts are trained directly.
    config = PrefixTuningConfig(task_type=task_type(ctx), num_virtual_tokens=cfg.ptuning_v2.num_virtual_tokens,
                                prefix_projection=False)
    return wrap_prefix(model, config, ctx)


def load_kwargs(cfg: Any, family: Any) -> dict[str, Any]:
    """ChatGLM2/3 build their own P-tuning v2 prefix encoder when the config has pre_seq_len (their
    ptuning/main.py sets it the same way); other families get peft's and load unchanged."""
    if family is not None and family.native_ptuning_v2:
        return {"pre_seq_len": cfg.ptuning_v2.num_virtual_tokens, "prefix_projection": False}
    return {}


def _native_ptuning_v2(model: Any) -> Any:
    from llmkit.errors import LlmkitError

    if getattr(model.config, "pre_seq_len", None) is None:
        raise LlmkitError(f"{type(model).__name__} was loaded without pre_seq_len, so it has no prefix encoder")
    trained = 0
    for name, param in model.named_parameters():
        param.requires_grad = "prefix_encoder" in name
        trained += param.requires_grad
    if not trained:
        raise LlmkitError(f"{type(model).__name__} has pre_seq_len but no prefix_encoder parameters; "
                          f"is this a ChatGLM2/3 checkpoint's own modeling code?")
    return model


METHOD = Method("ptuning-v2", "Deep prompts: trainable key/value prompts on every layer, no MLP.",
                "Liu et al. 2022, P-Tuning v2: Prompt Tuning Can Be Comparable to Fine-tuning Universally", build,
                "adapter", lr=3e-2, section="ptuning_v2", section_class=PtuningV2Section, merge_refusal=VIRTUAL_TOKENS,
                packing=False, gradient_checkpointing=False, gradient_checkpointing_refusal=PREFIX_CHECKPOINTING,
                load_kwargs=load_kwargs)
