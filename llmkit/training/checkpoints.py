"""Resumable checkpoints on disk, shared by fine-tuning's Trainer and the Accelerator loops.

Each checkpoint is a folder <output>/checkpoints/step-N. It is written as step-N.partial and renamed only once
every file is in it, so a run killed while saving leaves a `.partial` folder that resuming ignores, never a
checkpoint that looks whole but is not. The Accelerator loops (pretraining, DCGAN, diffusion) fill it through
`accelerate.Accelerator.save_state` (`LoopCheckpoints`); Trainer fills it itself (llmkit.training.resumable).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from llmkit.errors import LlmkitError

CHECKPOINTS = "checkpoints"  # the folder inside a run's output
LOOP_STATE = "llmkit_state.json"  # an Accelerator loop's own state, beside what accelerate saves
_PREFIX = "step-"


def checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints in `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"{_PREFIX}*") if p.is_dir() and p.name.removeprefix(_PREFIX).isdigit()]
    return sorted(found, key=checkpoint_step)


def checkpoint_step(checkpoint: Path) -> int:
    return int(checkpoint.name.removeprefix(_PREFIX))


def staging_folder(folder: Path, step: int) -> Path:
    """Where step `step`'s files are written before the checkpoint is committed."""
    return folder / f"{_PREFIX}{step}.partial"


def begin_checkpoint(folder: Path, step: int) -> Path:
    """A new, empty staging folder for step `step`'s files (main process only)."""
    staging = staging_folder(folder, step)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def commit_checkpoint(staging: Path) -> Path:
    """Rename a filled staging folder to its checkpoint name; the checkpoint exists only from now on."""
    target = staging.with_name(staging.name.removesuffix(".partial"))
    if target.exists():  # the same step saved twice (Ctrl-C right after a periodic save)
        shutil.rmtree(target)
    staging.rename(target)
    return target


def prune_checkpoints(folder: Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints (0 keeps them all)."""
    for old in checkpoints(folder)[:-keep] if keep > 0 else []:
        shutil.rmtree(old)


def checkpoint_to_resume(output: Path | None, when_written: str) -> Path:
    """The newest checkpoint of the interrupted run in `output`, or one line saying why there is none.
    `when_written` tells the user which setting writes checkpoints."""
    found = checkpoints(output / CHECKPOINTS) if output else []
    if not found:
        where = output / CHECKPOINTS if output else "the output folder"
        raise LlmkitError(f"--resume: no checkpoint in {where}; pass the output folder of an interrupted run "
                          f"(checkpoints are written {when_written})")
    return found[-1]


def checkpoint_named(spec: str, output: Path) -> Path:
    """The checkpoint a generative run's `train.resume` names: a checkpoint folder, or 'latest' in `output`."""
    if spec != "latest":
        return Path(spec).expanduser()
    found = checkpoints(output / CHECKPOINTS)
    if not found:
        raise LlmkitError(f"train.resume=latest but {output / CHECKPOINTS} holds no checkpoint; "
                          f"point train.resume at a checkpoint folder")
    return found[-1]


class LoopCheckpoints:
    """Checkpoints of an Accelerator loop in `folder`, the newest `keep` kept (all at 0).

    step-N holds what `accelerator.save_state` writes (the prepared models in safetensors, optimizers and
    schedulers, each process's RNG states, the objects registered with `register_for_checkpointing`) and
    llmkit_state.json, the loop's own state (its step, its log), which `load` returns. Every process calls
    both: each writes and reads its own RNG states. accelerate reads everything but the registered objects
    with torch's weights_only loader, so resuming runs no pickled code unless a loop registers an object.
    """

    def __init__(self, accelerator: Any, folder: Path, keep: int):
        self.accelerator, self.folder, self.keep = accelerator, folder, keep

    def save(self, step: int, state: dict[str, Any]) -> Path:
        """Write step-`step` with the loop's `state` (plain JSON values); returns its folder."""
        main = self.accelerator.is_main_process
        staging = begin_checkpoint(self.folder, step) if main else staging_folder(self.folder, step)
        self.accelerator.wait_for_everyone()  # the folder is empty and there before any process writes to it
        self.accelerator.save_state(str(staging))
        self.accelerator.wait_for_everyone()  # every process's RNG states are in before the folder is committed
        if main:
            (staging / LOOP_STATE).write_text(json.dumps({"step": step, **state}), encoding="utf-8")
            commit_checkpoint(staging)
            prune_checkpoints(self.folder, self.keep)
        self.accelerator.wait_for_everyone()
        return self.folder / f"{_PREFIX}{step}"

    def load(self, checkpoint: Path) -> dict[str, Any]:
        """Restore everything `save` wrote into the accelerator's objects; returns the loop's state."""
        state_file = checkpoint / LOOP_STATE
        if not state_file.is_file():  # not a checkpoint, or one of an llmkit that wrote its own files
            raise LlmkitError(f"{checkpoint} is not an llmkit checkpoint (no {LOOP_STATE}); pass a folder from "
                              f"<output>/{CHECKPOINTS}/ written by this version of llmkit")
        self.accelerator.load_state(str(checkpoint))
        return json.loads(state_file.read_text(encoding="utf-8"))
