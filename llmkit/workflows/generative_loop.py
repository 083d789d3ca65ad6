"""What the Accelerator loops of the generative models share: batches, noise, checkpoints, grids.

DCGAN (two optimizers) and diffusion (EMA weights) do not fit `transformers.Trainer`, so they run on
`accelerate.Accelerator` (which also runs them under `accelerate launch`). Every random draw of a step
(the batch, G's latents, diffusion noise and timesteps) comes from a generator seeded by (seed, step,
rank), not from the global RNG: a run repeats exactly, and a run resumed from a checkpoint continues
exactly as the uninterrupted run would have (tested), with no RNG state to carry.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.errors import LlmkitError

CHECKPOINTS = "checkpoints"
STATE_FILE = "llmkit_state.json"
SAMPLES = "samples"


def step_generator(seed: int, step: int, rank: int = 0) -> Any:
    """A torch.Generator for everything random in one step of one process."""
    import torch

    return torch.Generator().manual_seed(seed * 1_000_003 + step * 1_009 + rank)


class Batches:
    """Shuffled batches of an in-memory tensor: epoch e is a permutation seeded by (seed, e).

    Global batch k is a pure function of k, so resuming at step k needs no data-loader state. With
    several processes each takes its rows of the global batch (batch_size per device).
    """

    def __init__(self, n: int, batch_size: int, seed: int, world_size: int = 1, rank: int = 0):
        self.global_batch = batch_size * world_size
        if n < self.global_batch:
            raise LlmkitError(f"{n} training images cannot fill one batch of {self.global_batch}; "
                              f"lower train.batch_size")
        self.n, self.seed, self.rank, self.world_size = n, seed, rank, world_size
        self.per_epoch = n // self.global_batch  # the last partial batch is dropped (BatchNorm dislikes tiny ones)
        self._epoch, self._order = -1, None

    def indices(self, step: int) -> Any:
        import torch

        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            self._order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + 7919 * epoch))
        rows = self._order[k * self.global_batch:(k + 1) * self.global_batch]
        return rows[self.rank::self.world_size]

    def total_steps(self, epochs: float, max_steps: int) -> int:
        return max_steps if max_steps > 0 else max(1, math.ceil(epochs * self.per_epoch))


@dataclass
class LoopState:
    """What a checkpoint stores besides the accelerator's models and optimizers."""

    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


class Checkpoints:
    """<output>/checkpoints/step-NNNNNN: `accelerator.save_state` (models, optimizers, schedulers and any
    object registered for checkpointing) plus llmkit_state.json; written to a temporary name and renamed."""

    def __init__(self, accelerator: Any, output: Path, keep: int):
        self.accelerator, self.folder, self.keep = accelerator, output / CHECKPOINTS, keep

    def save(self, state: LoopState) -> Path:
        target = self.folder / f"step-{state.step:06d}"
        staging = self.folder / f".step-{state.step:06d}.partial"
        if self.accelerator.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(staging))
        if self.accelerator.is_main_process:
            (staging / STATE_FILE).write_text(json.dumps({"step": state.step, "history": state.history}),
                                              encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
            for old in self.saved()[:-self.keep] if self.keep > 0 else []:
                shutil.rmtree(old)
        self.accelerator.wait_for_everyone()
        return target

    def saved(self) -> list[Path]:
        return sorted(p for p in self.folder.glob("step-*") if (p / STATE_FILE).is_file())

    def resume(self, spec: str) -> LoopState:
        """Load `spec` (a checkpoint folder, or 'latest' in this output) into the accelerator's objects."""
        if spec == "latest":
            found = self.saved()
            if not found:
                raise LlmkitError(f"train.resume=latest but {self.folder} holds no checkpoint; "
                                  f"point train.resume at a checkpoint folder")
            path = found[-1]
        else:
            path = Path(spec).expanduser()
            if not (path / STATE_FILE).is_file():
                raise LlmkitError(f"{spec} is not an llmkit checkpoint (no {STATE_FILE}); pass a folder "
                                  f"from <output>/{CHECKPOINTS}/ or 'latest'")
        self.accelerator.load_state(str(path))
        saved = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
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
    from llmkit.eval.generative_plots import save_grid

    return save_grid(to_uint8(images), output / SAMPLES / f"{name}.png", scale=2)


def finish_step(state: LoopState, train: Any, total: int, progress: Any, checkpoints: Checkpoints,
                grid: Callable[[str], None], **logged: float) -> None:
    """Count the step; log `logged` every `train.logging_steps` steps (and at the last); write a grid and a
    checkpoint when due (neither at the last step: the run's final grid and outputs follow)."""
    state.step += 1
    progress.update(1)
    if state.step % train.logging_steps == 0 or state.step == total:
        state.history.append({"step": state.step, **{k: round(float(v), 5) for k, v in logged.items()}})
    if train.sample_every and state.step % train.sample_every == 0 and state.step < total:
        grid(f"step-{state.step:06d}")
    if train.save_every and state.step % train.save_every == 0 and state.step < total:
        checkpoints.save(state)
