"""Prompt tuning (Lester et al. 2021): trainable input embeddings before the prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.config import option
from llmkit.tuning.context import BuildContext
from llmkit.tuning.method import Method
from llmkit.tuning.peft_wrap import VIRTUAL_TOKENS, task_type, turn_off_dropout, wrap


@dataclass
class PromptSection:
    """Prompt tuning (Lester et al. 2021): trainable input embeddings before the prompt."""

    num_virtual_tokens: int = option("Soft prompt length (the paper's 20 is within 1 point of 100 at scale).",
                                    20, at_least=1)
    init_text: str | None = option("Initialise the soft prompt from this text's embeddings (None: random).", None)


def build(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import PromptTuningConfig, PromptTuningInit

    p = cfg.prompt
    text_init = {"prompt_tuning_init": PromptTuningInit.TEXT, "prompt_tuning_init_text": p.init_text,
                 "tokenizer_name_or_path": ctx.base_path} if p.init_text else {}
    config = PromptTuningConfig(task_type=task_type(ctx), num_virtual_tokens=p.num_virtual_tokens, **text_init)
    turn_off_dropout(model)
    return wrap(model, config)


METHOD = Method("prompt", "Soft prompt embeddings before the input (optionally initialised from text).",
                "Lester et al. 2021, The Power of Scale for Parameter-Efficient Prompt Tuning", build, "adapter",
                lr=1e-1, section="prompt", section_class=PromptSection, merge_refusal=VIRTUAL_TOKENS, packing=False)
