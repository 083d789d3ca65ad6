"""AdaLoRA's rank allocation inside `transformers.Trainer`.

AdaLoRA (Zhang et al. 2023) re-allocates its rank budget from importance scores computed from the
gradients, which peft does in `update_and_allocate(step)`: after `optimizer.step()` and before
`zero_grad()`. The Trainer never calls it, so without this callback every module keeps `init_r` and
AdaLoRA silently degrades to plain LoRA.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

ALLOCATOR_STATE = "adalora_allocator.pt"


class AdaLoraCallback(TrainerCallback):
    def __init__(self, peft_model: Any, phases: Callable[[int], tuple[int, int]]):
        # The unwrapped peft model: under DDP the Trainer's `model` is a wrapper without `base_model`.
        self.peft_model = peft_model
        self.phases = phases  # total steps -> (tinit, tfinal) in steps

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # The schedule is known only now (epochs x batches, or max_steps): fit AdaLoRA's phases to it.
        config = self.peft_model.peft_config["default"]
        config.total_step = state.max_steps
        config.tinit, config.tfinal = self.phases(state.max_steps)

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # Called after optimizer.step() and before zero_grad(): the gradients are still there.
        self.peft_model.base_model.update_and_allocate(state.global_step)

    # Resumable state (llmkit.training.resumable): the importance averages that decide the next allocation,
    # and the rank pattern allocated so far. Without them a resumed run would allocate from fresh scores.
    def save_state(self, folder: Path) -> None:
        import torch

        allocator = self.peft_model.base_model.rankallocator
        torch.save({"ipt": allocator.ipt, "exp_avg_ipt": allocator.exp_avg_ipt, "exp_avg_unc": allocator.exp_avg_unc,
                    "rank_pattern": self.peft_model.peft_config["default"].rank_pattern}, folder / ALLOCATOR_STATE)

    def load_state(self, folder: Path) -> None:
        import torch

        saved = torch.load(folder / ALLOCATOR_STATE, weights_only=True)
        allocator = self.peft_model.base_model.rankallocator
        allocator.ipt, allocator.exp_avg_ipt, allocator.exp_avg_unc = (
            saved["ipt"], saved["exp_avg_ipt"], saved["exp_avg_unc"])
        self.peft_model.peft_config["default"].rank_pattern = saved["rank_pattern"]

