"""What the peft-backed methods share: the task type, wrapping with a clear error, the virtual-token setup."""

from __future__ import annotations

from typing import Any

from llmkit.errors import LlmkitError
from llmkit.tuning.context import BuildContext

# Why `llmkit merge` refuses the methods whose virtual tokens are not weights of the base model.
VIRTUAL_TOKENS = "the virtual tokens are not weights of the base model; load the adapter on its base instead"
PREFIX_CHECKPOINTING = ("prefix tuning and P-tuning v2 do not work with gradient checkpointing (peft issue 869): "
                        "set train.gradient_checkpointing=false")


def task_type(ctx: BuildContext) -> Any:
    from peft import TaskType

    return TaskType.SEQ_CLS if ctx.task == "classify" else TaskType.CAUSAL_LM


def wrap(model: Any, config: Any) -> Any:
    from peft import get_peft_model
    from peft.utils.error import NoMatchingPeftModuleError

    try:
        return get_peft_model(model, config)
    except NoMatchingPeftModuleError:
        from llmkit.tuning.bottleneck import leaf_layer_names

        targets = sorted(config.target_modules) if isinstance(config.target_modules, set) else config.target_modules
        raise LlmkitError(f"target modules {targets} match no module of this {model.config.model_type!r} model; "
                          f"its layer names include: {leaf_layer_names(model)}") from None


def turn_off_dropout(model: Any) -> None:
    """Virtual-token methods train a few inputs to a frozen model, whose dropout then regularises nothing and
    only adds noise to a small signal. On all-MiniLM-L6-v2 (bench/methods.py, BERT part) the gradient w.r.t. a
    prefix's keys/values under dropout is 2.5 times the dropout-free one, at cosine 0.29 to it; with dropout,
    prefix tuning stayed at chance (loss ln 2) in four of five data orders and prompt tuning reached 54%, without
    it 96% both. Call before peft wraps the model, so that peft's own prompt-encoder modules keep their settings."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def wrap_prefix(model: Any, config: Any, ctx: BuildContext) -> Any:
    if ctx.task == "classify":
        # peft's own sequence-classification wrapper refuses prefixes on transformers 5.
        from llmkit.tuning.prefix_classification import PrefixSequenceClassifier

        return PrefixSequenceClassifier(model, config)
    return wrap(model, config)
