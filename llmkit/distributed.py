"""Where this process stands in a multi-process run, read from the variables `accelerate launch` and torchrun
set (absent in a plain run). Read at each call, not once: tests and relaunches change the environment."""

from __future__ import annotations

import os


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Processes in this run: 1 in a plain run."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return rank() == 0


def weights_are_sharded() -> bool:
    """True under FSDP or DeepSpeed ZeRO-3 (set by `accelerate launch` from its config): each rank then holds
    only a shard of the weights, so no rank can save the model from its own copy."""
    env = os.environ
    return env.get("ACCELERATE_USE_FSDP", "").lower() == "true" or (
        env.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true" and env.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3")
