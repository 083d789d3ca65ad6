"""The learning-rate warm-up of every job, counted as transformers 5's `TrainingArguments.warmup_steps` is."""

from __future__ import annotations

import math


def warmup_steps(warmup: float, total_steps: int) -> int:
    """Steps of warm-up: `warmup` itself from 1 up (a count), below 1 that fraction of `total_steps`, rounded up
    (the rule Trainer applies to the same recipe key, so every job reads it alike)."""
    return int(warmup) if warmup >= 1 else math.ceil(warmup * total_steps)
