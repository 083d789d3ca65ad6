"""`llmkit merge`: what a fine-tuning method trained, merged into its base as a standalone model."""

from __future__ import annotations

from dataclasses import dataclass

from llmkit.config import option
from llmkit.config.sections import JobOutput


@dataclass
class MergeConfig(JobOutput):
    adapter: str = option("Output folder of `llmkit finetune` (or a peft adapter) to merge.", "")
    base: str | None = option("Base model to merge into (None: the one the adapter records).", None)
