"""`llmkit finetune`: a model fine-tuned with a method of the table (llmkit/tuning/methods/) on a task.

FinetuneConfig's common keys are below; each method's own section (lora:, adalora:, prefix:, ...) is a
field added from the method table, so a new method brings its section with it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from llmkit.config import option
from llmkit.config.sections import WARMUP_RENAMED, JobOutput, ModelSection, TrainSection


@dataclass
class DataSection:
    path: str | None = option(
        "JSON/JSONL/CSV/Parquet file or folder of them, alpaca or messages/sharegpt form. "
        "None: llmkit's built-in bilingual demo tasks; numerals: the built-in Chinese numerals task "
        "(47 -> 四十七, 360 training chats, 54 held-out numbers), made for real pretrained models.", None)
    format: Literal["auto", "alpaca", "messages", "sharegpt"] = option(
        "Record layout; auto detects it from the columns.", "auto")
    eval_path: str | None = option("Held-out file in the same form, for exact match before/after.", None)
    max_length: int = option("Tokens per example; longer ones are truncated (and counted in the log).", 512, at_least=1)
    packing: bool = option(
        "Padding-free batches: pack examples into rows of max_length tokens; attention never crosses examples.",
        True)
    system: str | None = option("System prompt put before every conversation that has none.", None)
    limit: int = option("Use only the first N training examples (0: all).", 0, at_least=0)
    text_column: str = option("task=classify: the column holding the text.", "text")
    text_pair_column: str | None = option("task=classify: a second text column for pair tasks (e.g. NLI).", None)
    label_column: str = option("task=classify: the column holding the label (a name or an integer).", "label")


@dataclass
class FinetuneTrainSection(TrainSection):
    """TrainSection with fine-tuning's resumable checkpoints (a subclass, so a layer that sets one key keeps
    the defaults of the others)."""

    lr: float = option("Peak learning rate. 0: the method's own default (`llmkit methods NAME` shows it).",
                      0.0, at_least=0)
    save_steps: int = option("Write a resumable checkpoint every this many steps (0: none; a run shorter than this "
                            "writes none). Ctrl-C also writes one, unless this is 0.", 500, at_least=0)
    keep_checkpoints: int = option("Checkpoints kept (the oldest are deleted; 0: all).", 2, at_least=0)


@dataclass
class EvalSection:
    limit: int = option("Held-out examples scored by exact match before and after training (0: none).",
                        200, at_least=0)
    max_new_tokens: int = option("Tokens generated per answer when scoring.", 16, at_least=1)
    batch_size: int = option("Prompts generated at once when scoring.", 32, at_least=1)
    before: bool = option("Also score the base model before training (for the before/after table).", True)


@dataclass
class FinetuneJob(JobOutput):
    """The keys of every fine-tuning run, whatever the method."""

    renamed_keys: ClassVar[dict[str, str]] = {**WARMUP_RENAMED, "eval.max_samples": "eval.limit"}

    method: str = option("Fine-tuning method (see `llmkit methods`).", "lora")
    task: Literal["sft", "classify"] = option(
        "sft: causal-LM fine-tuning on chat data; classify: sequence classification with a new head.", "sft")
    resume: bool = option("Continue the run in `output` from its last checkpoint.", False)
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    train: FinetuneTrainSection = field(default_factory=FinetuneTrainSection)
    eval: EvalSection = field(default_factory=EvalSection)


def _with_method_sections(job: type) -> Any:
    """`job` plus one field per method section in the table, typed by the method's own dataclass."""
    from llmkit.tuning.methods import METHODS

    sections = [(m.section, m.section_class, field(default_factory=m.section_class))
                for m in METHODS.values() if m.section_class is not None]
    config = dataclasses.make_dataclass("FinetuneConfig", sections, bases=(job,))
    config.__module__ = __name__
    return config


FinetuneConfig = _with_method_sections(FinetuneJob)
