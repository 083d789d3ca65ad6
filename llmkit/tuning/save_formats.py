"""How a fine-tuned model is written and read back: one entry per format, named in each output's manifest.

  adapter     peft's adapter folder (adapter_config.json + adapter_model.safetensors): plain peft loads it
  model       a whole model folder that AutoModel* loads
  trained     only the tensors that were trained (trained_weights.safetensors), applied to the base
  bottleneck  llmkit's bottleneck adapters (bottleneck_adapter.safetensors + bottleneck_config.json)

A format saves a trained model into a folder, loads it back onto a fresh base, and either merges it into a
standalone model or says why it cannot; its card sentence says what the folder holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmkit.errors import LlmkitError

TRAINED_WEIGHTS = "trained_weights.safetensors"


@dataclass(frozen=True)
class SaveFormat:
    name: str
    save: Callable[[Any, Path], None]  # (trained model, folder)
    # (folder, task, load_model) -> the model as trained. load_model(None) loads a fresh copy of the base,
    # load_model(path) the whole model in that folder.
    load: Callable[[Path, str, Callable[[str | None], Any]], Any]
    merge: Callable[[Any], Any] | None  # (loaded model) -> a plain transformers model; None: cannot merge
    merge_refusal: str  # why it cannot, when merge is None
    card: str  # the model card's first sentence; {base} is the base model, {kind} the adapter's type
    plain_loading: bool  # whether plain transformers / peft load it without llmkit
    # transformers gathers FSDP / ZeRO-3 shards for save_pretrained; llmkit's own files are written from
    # whole tensors, so those formats need every weight on one rank.
    from_shards: bool = True


def _save_pretrained(model: Any, folder: Path) -> None:
    model.config.use_cache = True
    model.save_pretrained(folder)


def _load_adapter(folder: Path, task: str, load_model: Callable[[str | None], Any]) -> Any:
    from peft import PeftConfig, PeftModel

    model = load_model(None)
    config = PeftConfig.from_pretrained(str(folder))
    if task == "classify" and config.peft_type == "PREFIX_TUNING":
        from llmkit.tuning.prefix_classification import PrefixSequenceClassifier

        return PrefixSequenceClassifier.load(model, str(folder))
    model = PeftModel.from_pretrained(model, str(folder))
    if task == "sft":
        from llmkit.tuning.prompt_generation import fix_prompt_learning_generation

        fix_prompt_learning_generation(model)
    if config.peft_type == "ADALORA":
        # AdaLoRA's forward adds its orthogonality term to any loss and looks up the adapter it trains,
        # which peft leaves unset in inference mode (AttributeError). Name it, so a loss computes as in training.
        model.base_model.trainable_adapter_name = "default"
    return model


def save_trained(model: Any, folder: Path) -> None:
    """Write only the parameters that were trained."""
    from safetensors.torch import save_file

    tensors = {name: p.detach().contiguous().cpu() for name, p in model.named_parameters() if p.requires_grad}
    save_file(tensors, str(folder / TRAINED_WEIGHTS), metadata={"format": "pt"})


def _load_trained(folder: Path, task: str, load_model: Callable[[str | None], Any]) -> Any:
    """Put the trained tensors saved in `folder` into a fresh copy of the base."""
    from safetensors.torch import load_file

    model = load_model(None)
    tensors = load_file(str(folder / TRAINED_WEIGHTS))
    own = dict(model.named_parameters())
    missing = [name for name in tensors if name not in own]
    if missing:
        raise LlmkitError(f"{folder}: the base model has no parameter {missing[0]}; is this the right base?")
    model.load_state_dict(tensors, strict=False)
    return model


def _save_bottleneck(model: Any, folder: Path) -> None:
    from llmkit.tuning.bottleneck import save_bottleneck_adapter

    save_bottleneck_adapter(model, folder)


def _load_bottleneck(folder: Path, task: str, load_model: Callable[[str | None], Any]) -> Any:
    from llmkit.tuning.bottleneck import load_bottleneck_adapter

    return load_bottleneck_adapter(load_model(None), folder)


def _load_whole(folder: Path, task: str, load_model: Callable[[str | None], Any]) -> Any:
    return load_model(str(folder))


SAVE_FORMATS: dict[str, SaveFormat] = {f.name: f for f in [
    SaveFormat("adapter", _save_pretrained, _load_adapter, lambda model: model.merge_and_unload(), "",
               "A {kind} adapter (peft) for `{base}`, trained with `llmkit finetune`.", plain_loading=True),
    SaveFormat("model", _save_pretrained, _load_whole, None, "the output is already a whole model",
               "A whole model fine-tuned from `{base}` with `llmkit finetune`.", plain_loading=True),
    SaveFormat("trained", save_trained, _load_trained, lambda model: model, "",
               "The weights `llmkit finetune` trained (the rest is `{base}`'s), for `{base}`.", plain_loading=False,
               from_shards=False),
    SaveFormat("bottleneck", _save_bottleneck, _load_bottleneck, None,
               "the adapters add a non-linear layer, which no weight matrix can absorb",
               "llmkit's bottleneck adapters, for `{base}`.", plain_loading=False, from_shards=False),
]}


def save_format_of(method: Any, model: Any) -> SaveFormat:
    """How this trained model is saved: the method's format, except that a method peft would wrap but the
    model implements itself (ChatGLM's own P-tuning v2) saves just the tensors it trained."""
    if method.save_format == "adapter" and not hasattr(model, "peft_config"):
        return SAVE_FORMATS["trained"]
    return SAVE_FORMATS[method.save_format]
