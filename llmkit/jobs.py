"""Every job llmkit runs, in one table: the name its run record stores, the command that runs it, its config
class, its run function and its recipe folder. The CLI, the run record, the model card and `llmkit recipes`
read this table; nothing else spells out a job's identity.

Config classes and run functions are named by "module:attribute" and imported only when used, so reading the
table (as `llmkit --help` does) imports neither torch nor transformers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    name: str  # as the run record (llmkit_run.json) stores it
    command: str  # what follows `llmkit` on the command line
    config: str  # "module:Class" of the config dataclass its recipes and flags fill
    run: str  # "module:function" that does the work: run(cfg) -> result dict with "output"
    recipes: str | None = None  # its folder under recipes/; None: it takes no recipe
    demo: str | None = None  # the recipe it runs when given neither a recipe nor its own data

    def config_class(self) -> type:
        return _load(self.config)

    def run_function(self) -> Callable[..., Any]:
        return _load(self.run)


def _load(dotted: str) -> Any:
    module, _, attribute = dotted.partition(":")
    return getattr(importlib.import_module(module), attribute)


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("finetune", "finetune", "llmkit.config.finetune:FinetuneConfig", "llmkit.workflows.finetune:run",
        recipes="finetune", demo="finetune/demo-lora"),
    Job("pretrain", "pretrain", "llmkit.config.pretrain:PretrainConfig", "llmkit.workflows.pretrain:run",
        recipes="pretrain"),
    Job("train", "train", "llmkit.config.classic:ClassicTrainConfig", "llmkit.workflows.train:run",
        recipes="train", demo="train/lenet5-digits"),
    Job("gan", "gan train", "llmkit.config.gan:GanConfig", "llmkit.workflows.gan:run",
        recipes="gan", demo="gan/dcgan-digits"),
    Job("gan-sample", "gan sample", "llmkit.config.gan:GanSampleConfig", "llmkit.workflows.gan:sample"),
    Job("diffusion", "diffusion train", "llmkit.config.diffusion:DiffusionConfig", "llmkit.workflows.diffusion:run",
        recipes="diffusion", demo="diffusion/ddpm-digits"),
    Job("diffusion-sample", "diffusion sample", "llmkit.config.diffusion:DiffusionSampleConfig",
        "llmkit.workflows.diffusion_sample:run"),
    Job("diffusion-lora", "diffusion finetune", "llmkit.config.diffusion:DiffusionFinetuneConfig",
        "llmkit.workflows.diffusion_lora:run", recipes="diffusion-lora"),
    Job("eval", "eval", "llmkit.config.eval:EvalConfig", "llmkit.workflows.evaluate:run", recipes="eval"),
    Job("merge", "merge", "llmkit.config.merge:MergeConfig", "llmkit.workflows.merge:run"),
)}


def get_job(name: str) -> Job:
    """The table's entry for `name`; a name outside the table is a bug in the caller, not a user error."""
    try:
        return JOBS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a job in llmkit.jobs.JOBS ({', '.join(JOBS)})") from None


def job_of_recipe_folder(folder: str) -> Job | None:
    """The job whose recipes live in recipes/<folder>/, if any."""
    return next((job for job in JOBS.values() if job.recipes == folder), None)
