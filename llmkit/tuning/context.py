"""What a method builder needs to know besides the model and the recipe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmkit.tuning.families import Family


@dataclass(frozen=True)
class BuildContext:
    task: Literal["sft", "classify"]
    base_path: str  # the base model's folder or Hub id (prompt tuning's text init reads its tokenizer)
    total_steps: int  # the planned optimizer steps (an estimate; AdaLoRA's callback corrects it)
    family: Family | None  # None for a model type llmkit has no entry for (explicit targets needed)
