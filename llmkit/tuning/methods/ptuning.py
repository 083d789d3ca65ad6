"""P-tuning (Liu et al. 2021, GPT Understands, Too): virtual tokens produced by a prompt encoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from llmkit.config import option
from llmkit.tuning.context import BuildContext
from llmkit.tuning.method import Method
from llmkit.tuning.peft_wrap import VIRTUAL_TOKENS, task_type, turn_off_dropout, wrap


@dataclass
class PtuningSection:
    """P-tuning (Liu et al. 2021, GPT Understands, Too): virtual tokens produced by a prompt encoder."""

    num_virtual_tokens: int = option("Virtual tokens before the prompt.", 20, at_least=1)
    encoder: Literal["lstm", "mlp"] = option("Prompt encoder: the paper's bidirectional LSTM + MLP, or an MLP.",
                                            "lstm")
    encoder_hidden_size: int = option("Hidden width of the prompt encoder.", 128, at_least=1)


def build(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import PromptEncoderConfig

    p = cfg.ptuning
    config = PromptEncoderConfig(task_type=task_type(ctx), num_virtual_tokens=p.num_virtual_tokens,
                                 encoder_reparameterization_type=p.encoder.upper(),
                                 encoder_hidden_size=p.encoder_hidden_size)
    turn_off_dropout(model)
    return wrap(model, config)


METHOD = Method("ptuning", "Virtual input tokens produced by an LSTM (or MLP) prompt encoder.",
                "Liu et al. 2021, GPT Understands, Too (P-tuning)", build, "adapter", lr=1e-2, section="ptuning",
                section_class=PtuningSection, merge_refusal=VIRTUAL_TOKENS, packing=False)
