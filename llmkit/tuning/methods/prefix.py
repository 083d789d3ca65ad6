"""Prefix tuning (Li & Liang 2021): trainable key/value prefixes on every layer, produced through an MLP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.config import option
from llmkit.tuning.context import BuildContext
from llmkit.tuning.method import Method
from llmkit.tuning.peft_wrap import PREFIX_CHECKPOINTING, VIRTUAL_TOKENS, task_type, turn_off_dropout, wrap_prefix


@dataclass
class PrefixSection:
    """Prefix tuning (Li & Liang 2021): trainable key/value prefixes on every layer, through an MLP."""

    num_virtual_tokens: int = option("Prefix length (the paper's 10 for table-to-text).", 10, at_least=1)
    encoder_hidden_size: int = option("Hidden width of the reparameterising MLP (the paper's 512).", 512, at_least=1)


def build(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import PrefixTuningConfig

    config = PrefixTuningConfig(task_type=task_type(ctx), num_virtual_tokens=cfg.prefix.num_virtual_tokens,
                                prefix_projection=True, encoder_hidden_size=cfg.prefix.encoder_hidden_size)
    turn_off_dropout(model)
    return wrap_prefix(model, config, ctx)


METHOD = Method("prefix", "Key/value prefixes on every layer, produced through an MLP.",
                "Li & Liang 2021, Prefix-Tuning: Optimizing Continuous Prompts for Generation", build, "adapter",
                lr=1e-3, section="prefix", section_class=PrefixSection, merge_refusal=VIRTUAL_TOKENS, packing=False,
                gradient_checkpointing=False, gradient_checkpointing_refusal=PREFIX_CHECKPOINTING)
