"""Resumable checkpoints on disk, shared by pretraining's loop and fine-tuning's Trainer.

Each checkpoint is a folder <checkpoints>/step-N. It is written as step-N.partial and renamed only once every
file is in it, so a run killed while saving leaves a `.partial` folder that resuming ignores, never a
checkpoint that looks whole but is not.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from llmkit.errors import LlmkitError

CHECKPOINTS = "checkpoints"  # the folder inside a run's output
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
