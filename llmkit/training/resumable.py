"""A `transformers.Trainer` whose runs survive faults: small atomic checkpoints, exact resume, a clean Ctrl-C.

Checkpoints hold what the method trains and nothing else (the trainable parameters by name: LoRA's
matrices, a prompt encoder, bottleneck adapters, the unfrozen blocks, or every weight for `full`), plus
what Trainer needs to continue exactly: optimizer, scheduler, RNG states and its own state (the step, the
log, the place in the data order). Saving only the trainable tensors makes one format serve every method,
including those whose saved adapter is not the trained state (peft saves P-tuning's and prefix tuning's
virtual tokens, not the encoder that produces them). Callbacks that carry state of their own (AdaLoRA's
importance scores) add it through `save_state(folder)` / `load_state(folder)`.

Ctrl-C does not kill the process mid-step: the first one asks the Trainer to stop after the current
optimizer step and to write a checkpoint there; a second one stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback

from llmkit import console
from llmkit.errors import LlmkitError
from llmkit.training.checkpoints import begin_checkpoint, commit_checkpoint, prune_checkpoints, staging_folder

TRAINABLE_WEIGHTS = "trainable_weights.safetensors"
TRAINER_STATE = "trainer_state.json"


def trainable_state(model: Any) -> dict[str, Any]:
    return {name: p.detach().contiguous() for name, p in model.named_parameters() if p.requires_grad}


class ResumableTrainer(Trainer):
    """Trainer with llmkit's checkpoints under `args.output_dir`; FSDP and DeepSpeed keep Trainer's own (their
    shards are saved and gathered by the backend)."""

    def _stateful_callbacks(self) -> list[Any]:
        return [cb for cb in self.callback_handler.callbacks if hasattr(cb, "save_state")]

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        if self.is_fsdp_enabled or self.is_deepspeed_enabled:
            return super()._save_checkpoint(model, trial)
        from safetensors.torch import save_file

        folder = Path(self.args.output_dir)
        staging = staging_folder(folder, self.state.global_step)  # the other ranks write their RNG state there
        if self.args.should_save:
            staging = begin_checkpoint(folder, self.state.global_step)
            save_file(trainable_state(self.model), str(staging / TRAINABLE_WEIGHTS))
            for callback in self._stateful_callbacks():
                callback.save_state(staging)
        self.accelerator.wait_for_everyone()  # the folder exists before the other ranks write their RNG state
        self._save_optimizer_and_scheduler(str(staging))
        self._save_scaler(str(staging))
        self._save_rng_state(str(staging))
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            self.state.save_to_json(str(staging / TRAINER_STATE))
            commit_checkpoint(staging)
            prune_checkpoints(folder, self.args.save_total_limit or 0)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        if self.is_fsdp_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        import torch
        from safetensors.torch import load_file

        folder = Path(resume_from_checkpoint)
        saved = load_file(str(folder / TRAINABLE_WEIGHTS))
        params = {name: p for name, p in (model or self.model).named_parameters() if p.requires_grad}
        if set(saved) != set(params):
            missing = sorted(set(params) - set(saved)) or sorted(set(saved) - set(params))
            raise LlmkitError(f"checkpoint {folder} holds other weights than this run trains (e.g. {missing[0]}); "
                              f"resume with the run's own recipe and method")
        with torch.no_grad():
            for name, param in params.items():
                param.copy_(saved[name])
        for callback in self._stateful_callbacks():
            callback.load_state(folder)


class StopOnInterrupt(TrainerCallback):
    """Ends training after the step in which `requested` was set (with several processes: at the next logging
    step), with a checkpoint when `save` is on."""

    def __init__(self, save: bool):
        self.save = save
        self.requested = False

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if args.world_size > 1:
            # Every rank must stop at the same step, or the others would hang in their next collective. Ranks
            # agree at logging steps, where Trainer waits for the device anyway to read the loss: one all-reduce
            # there, instead of a device sync at every step.
            if state.global_step % max(1, int(args.logging_steps)) or not _any_rank(self.requested):
                return
        elif not self.requested:
            return
        self.requested = True
        control.should_training_stop = True
        control.should_save = self.save


def _any_rank(flag: bool) -> bool:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    import torch

    value = torch.tensor([int(flag)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


@contextmanager
def stop_on_ctrl_c(callback: StopOnInterrupt) -> Iterator[None]:
    """While training: the first SIGINT sets `callback.requested`, a second raises KeyboardInterrupt."""
    ours = threading.current_thread() is threading.main_thread()
    if not ours or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:  # someone else's handler
        yield
        return

    def request_stop(signum: int, frame: Any) -> None:
        if callback.requested:
            raise KeyboardInterrupt
        callback.requested = True
        console.warn("stopping after this step (with several processes: the next logging step)"
                     + (" and saving a checkpoint" if callback.save else "")
                     + "; press Ctrl-C again to stop at once")

    signal.signal(signal.SIGINT, request_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
