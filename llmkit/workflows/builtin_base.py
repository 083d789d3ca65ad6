"""llmkit's built-in base model: the pretrain job on the `llama-tiny` recipe, run on first use, then cached.

Outputs record it by name (llmkit.cache.BUILTIN_BASE_NAME); the workflows that load a recorded base expand
the name here, so path resolvers and loaders below them never start a pretraining run.

The cache folder's name carries llmkit's version and a hash of the recipe and of the code that
generates the corpus, tokenizer, blocks and model and trains it, so changing any of them builds a
fresh model instead of reusing a stale one. The build writes to a
temporary folder and renames it, so an interrupted build never leaves a half-written model; the next
build resumes from the temporary folder's last checkpoint instead of starting over.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from llmkit import __version__, console
from llmkit.cache import BUILTIN_BASE_NAME, build_once, cache_root
from llmkit.recipes import resolve

BASE_RECIPE = "pretrain/llama-tiny"


def builtin_base_path() -> Path:
    from llmkit import config
    from llmkit.config import pretrain as pretrain_config
    from llmkit.config import sections
    from llmkit.data import chat, demo_corpus, demo_facts, packing, tokenizer
    from llmkit.pretraining import architectures, loop, objectives, presets
    from llmkit.workflows import pretrain

    digest = hashlib.sha256(resolve(BASE_RECIPE).path.read_bytes())
    # config: the defaults the recipe leaves unset; chat: the template saved with the tokenizer
    for module in (config, sections, pretrain_config, chat, demo_facts, demo_corpus, tokenizer, packing,
                   architectures, loop, objectives, presets, pretrain):
        digest.update(Path(module.__file__).read_bytes())
    return cache_root() / "models" / f"llama-tiny-{__version__}-{digest.hexdigest()[:10]}"


def ensure_builtin_base() -> Path:
    """The cached built-in base model's folder, pretraining it first if it is not there yet."""

    def pretrain_into(staging: Path) -> None:
        from llmkit.config import build_config
        from llmkit.config.pretrain import PretrainConfig
        from llmkit.workflows import pretrain

        resume = interrupted(staging)
        if resume:
            console.info(f"resuming the interrupted build in {staging}")
        cfg = build_config(PretrainConfig, resolve(BASE_RECIPE).load(), {"output": str(staging), "resume": resume},
                           source=f"recipe {BASE_RECIPE}")
        pretrain.run(cfg)

    def interrupted(staging: Path) -> bool:  # an earlier build of this same base left checkpoints
        from llmkit.training.checkpoints import CHECKPOINTS, checkpoints

        return bool(checkpoints(staging / CHECKPOINTS))

    return build_once(builtin_base_path(), "llmkit's built-in base model", pretrain_into,
                      "`llmkit finetune --max-steps 1`, or use --num-processes, which builds it first",
                      resumable=interrupted)


def expand_builtin_base(name: str) -> str:
    """The folder of llmkit's built-in base (built on first use) for its recorded name, any other name as it is."""
    return str(ensure_builtin_base()) if name == BUILTIN_BASE_NAME else name
