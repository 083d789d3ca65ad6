"""llmkit's built-in base model: pretrained from the `llama-tiny` recipe on first use, then cached.

The cache folder's name carries llmkit's version and a hash of the recipe and of the code that
generates the corpus, tokenizer, blocks and model and trains it, so changing any of them builds a
fresh model instead of reusing a stale one. The build writes to a
temporary folder and renames it, so an interrupted build never leaves a half-written model; the next
build resumes from the temporary folder's last checkpoint instead of starting over.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from llmkit import __version__, console
from llmkit.errors import LlmkitError
from llmkit.recipes import resolve

BASE_RECIPE = "pretrain/llama-tiny"
# The name outputs record for this base instead of its cache folder, which differs between machines:
# llmkit.hub.resolve.resolve_source turns it back into the folder (building the base if needed).
BUILTIN_BASE_NAME = "llmkit-llama-tiny"


def cache_root() -> Path:
    """$LLMKIT_CACHE, or the platform's user cache folder (~/.cache/llmkit on Linux)."""
    if os.environ.get("LLMKIT_CACHE"):
        return Path(os.environ["LLMKIT_CACHE"]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("llmkit"))


def builtin_base_path() -> Path:
    from llmkit import config
    from llmkit.data import chat, demo_corpus, demo_facts, packing, tokenizer
    from llmkit.pretraining import architectures, loop, objectives, presets
    from llmkit.workflows import pretrain

    digest = hashlib.sha256(resolve(BASE_RECIPE).path.read_bytes())
    # config: the defaults the recipe leaves unset; chat: the template saved with the tokenizer
    for module in (config, chat, demo_facts, demo_corpus, tokenizer, packing, architectures, loop, objectives,
                   presets, pretrain):
        digest.update(Path(module.__file__).read_bytes())
    return cache_root() / "models" / f"llama-tiny-{__version__}-{digest.hexdigest()[:10]}"


def ensure_builtin_base() -> Path:
    """The cached built-in base model's folder, pretraining it first if it is not there yet."""

    def pretrain_into(staging: Path) -> None:
        from llmkit.checkpoints import CHECKPOINTS, checkpoints
        from llmkit.config import build_config
        from llmkit.config.pretrain import PretrainConfig
        from llmkit.workflows import pretrain

        resume = bool(checkpoints(staging / CHECKPOINTS))  # an earlier build of this same base was interrupted
        if resume:
            console.info(f"resuming the interrupted build in {staging}")
        cfg = build_config(PretrainConfig, resolve(BASE_RECIPE).load(), {"output": str(staging), "resume": resume},
                           source=f"recipe {BASE_RECIPE}")
        pretrain.run(cfg)

    return build_once(builtin_base_path(), "llmkit's built-in base model", pretrain_into,
                      "`llmkit finetune --max-steps 1`, or use --num-processes, which builds it first", resumable=True)


def build_once(target: Path, what: str, build: Callable[[Path], None], how: str, resumable: bool = False) -> Path:
    """`target`, made by `build(staging folder)` the first time and cached: the build writes to a temporary
    folder that is renamed when done, and a second process waits on a file lock instead of building twice.
    `how` tells a multi-process run how to build it beforehand. resumable: a staging folder left with
    checkpoints by an interrupted build is kept for `build` to resume from (otherwise it starts afresh)."""
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        from llmkit.launch import world_size

        if world_size() > 1:  # one rank cannot build alone inside a run whose other ranks wait for it
            raise LlmkitError(f"{what} is not built yet; build it once in one process ({how})")
        console.info(f"building {what} (once; cached in {target})")
        from llmkit.checkpoints import CHECKPOINTS, checkpoints

        staging = target.with_name(target.name + ".partial")
        if not (resumable and checkpoints(staging / CHECKPOINTS)):
            shutil.rmtree(staging, ignore_errors=True)
        build(staging)
        staging.rename(target)
    return target
