"""llmkit's cache: where built things live (the built-in base, converted GGUF models, eval outputs), and how
a cache entry is built once, however many processes ask for it at the same time."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from llmkit import console
from llmkit.distributed import world_size
from llmkit.errors import LlmkitError

# The name outputs record for llmkit's built-in base instead of its cache folder, which differs between
# machines; the workflows that load a recorded base turn it back into the folder (llmkit/workflows/builtin_base.py).
BUILTIN_BASE_NAME = "llmkit-llama-tiny"


def cache_root() -> Path:
    """$LLMKIT_CACHE, or the platform's user cache folder (~/.cache/llmkit on Linux)."""
    if os.environ.get("LLMKIT_CACHE"):
        return Path(os.environ["LLMKIT_CACHE"]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("llmkit"))


def build_once(target: Path, what: str, build: Callable[[Path], None], how: str,
               resumable: Callable[[Path], bool] | None = None) -> Path:
    """`target`, made by `build(staging folder)` the first time and cached: the build writes to a temporary
    folder that is renamed when done, and a second process waits on a file lock instead of building twice.
    `how` tells a multi-process run how to build it beforehand. resumable(staging): whether a staging folder
    left by an interrupted build holds what `build` resumes from (otherwise it starts afresh)."""
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        if world_size() > 1:  # one rank cannot build alone inside a run whose other ranks wait for it
            raise LlmkitError(f"{what} is not built yet; build it once in one process ({how})")
        console.info(f"building {what} (once; cached in {target})")
        staging = target.with_name(target.name + ".partial")
        if not (resumable and resumable(staging)):
            shutil.rmtree(staging, ignore_errors=True)
        build(staging)
        staging.rename(target)
    return target
