"""What the Accelerator loops of the generative models share: batches, noise, checkpoints, grids.

DCGAN (two optimizers) and diffusion (EMA weights) do not fit `transformers.Trainer`, so they run on
`accelerate.Accelerator` (which also runs them under `accelerate launch`). Every random draw of a step
(the batch, G's latents, diffusion noise and timesteps) comes from a generator seeded by (seed, step,
rank), not from the global RNG: a run repeats exactly, and a run resumed from a checkpoint continues
exactly as the uninterrupted run would have (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.errors import LlmkitError
from llmkit.training.batches import SeededBatches
from llmkit.training.checkpoints import LoopCheckpoints, checkpoint_named

SAMPLES = "samples"


def step_generator(seed: int, step: int, rank: int = 0) -> Any:
    """A torch.Generator for everything random in one step of one process."""
    import torch

    return torch.Generator().manual_seed(seed * 1_000_003 + step * 1_009 + rank)


def image_batches(n: int, batch_size: int, seed: int, accelerator: Any) -> SeededBatches:
    """The seeded batches of `n` training images, `batch_size` per process, indexed on the accelerator's device."""
    global_batch = batch_size * accelerator.num_processes
    if n < global_batch:  # a batch would repeat images
        raise LlmkitError(f"{n} training images cannot fill one batch of {global_batch}; lower train.batch_size")
    return SeededBatches(n, batch_size, seed, world_size=accelerator.num_processes, rank=accelerator.process_index,
                         device=accelerator.device)


def total_steps(batches: SeededBatches, train: Any) -> int:
    """`train.max_steps`, or the steps of `train.epochs` passes over the images."""
    return train.max_steps if train.max_steps > 0 else batches.steps_for(train.epochs)


@dataclass
class LoopState:
    """What a checkpoint stores besides the accelerator's models and optimizers."""

    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def resume_state(checkpoints: LoopCheckpoints, spec: str | None, output: Path) -> LoopState:
    """A fresh state, or the one of the checkpoint `spec` names (a folder, or 'latest' in `output`) with the
    accelerator's objects (and any registered for checkpointing) restored from it."""
    if not spec:
        return LoopState()
    path = checkpoint_named(spec, output)
    saved = checkpoints.load(path)
    console.info(f"resumed from {path} at step {saved['step']}")
    return LoopState(step=saved["step"], history=saved["history"])


def prepare_run_output(output: Path, overwrite: bool, resume: str | None) -> None:
    """A fresh run needs an empty folder (or --overwrite); a resumed one continues in its own folder."""
    from llmkit.run_dir import check_output_dir, claim_output_dir, prepare_output_dir

    if resume:
        if not output.is_dir():
            raise LlmkitError(f"cannot resume: output folder {output} does not exist; pass the --output of the "
                              f"run to resume")
        claim_output_dir(output)
        return
    check_output_dir(output, overwrite)
    prepare_output_dir(output, overwrite)


def write_grid(images: Any, output: Path, name: str) -> Path:
    """A grid PNG of (N, C, H, W) images in [-1, 1] under <output>/samples/."""
    from llmkit.data.generative_images import to_uint8
    from llmkit.plots.images import save_grid

    return save_grid(to_uint8(images), output / SAMPLES / f"{name}.png", scale=2)


def finish_step(state: LoopState, train: Any, total: int, progress: Any, checkpoints: LoopCheckpoints,
                grid: Callable[[str], None], **logged: float) -> None:
    """Count the step; log `logged` every `train.logging_steps` steps (and at the last); write a grid and a
    checkpoint when due (neither at the last step: the run's final grid and outputs follow)."""
    state.step += 1
    progress.update(1)
    if state.step % train.logging_steps == 0 or state.step == total:
        state.history.append({"step": state.step, **{k: round(float(v), 5) for k, v in logged.items()}})
    if train.sample_steps and state.step % train.sample_steps == 0 and state.step < total:
        grid(f"step-{state.step:06d}")
    if train.save_steps and state.step % train.save_steps == 0 and state.step < total:
        checkpoints.save(state.step, {"history": state.history})
