"""What a fine-tuning method is: the record each file in llmkit/tuning/methods/ fills in for the table.

A method owns its hyperparameter section (a dataclass whose fields carry help text and the papers'
defaults), its builder, its learning rate, any Trainer callbacks, and the format it saves in
(llmkit/tuning/save_formats.py). Nothing outside the method's own file asks for it by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from llmkit.errors import LlmkitError


@dataclass(frozen=True)
class Method:
    name: str
    help: str
    paper: str
    # (base model, FinetuneConfig, BuildContext) -> the model to train
    build: Callable[[Any, Any, Any], Any]
    save_format: str  # a key of save_formats.SAVE_FORMATS
    # The peak learning rate when neither a recipe nor --lr sets one. Measured on SmolLM2-135M-Instruct
    # (`python bench/methods.py --part real`, README): weight updates want small steps, methods that steer
    # a frozen model through a few virtual tokens want steps 10-1000x larger.
    lr: float
    # The recipe section of its hyperparameters: `section_class` is the dataclass when the method defines
    # it (FinetuneConfig gets a field `section` of that type); a method that reads another's section
    # (DoRA reads lora:) names it and leaves section_class None.
    section: str | None = None
    section_class: type | None = None
    merge_refusal: str | None = None  # why `llmkit merge` refuses it although its format could merge
    # Methods that prepend virtual tokens cannot share a row between examples (the prompt would come
    # once per row), and prefixes enter as a KV cache, which turns off packed attention masks.
    packing: bool = True
    gradient_checkpointing: bool = True
    gradient_checkpointing_refusal: str = ""
    target_key: str | None = None  # the recipe key --target sets
    # The section holding how the base is quantised on loading (QLoRA), or None for a full-precision base.
    quantization_section: str | None = None
    # from_pretrained kwargs the base needs for this method: (FinetuneConfig, Family | None) -> kwargs
    load_kwargs: Callable[[Any, Any], dict[str, Any]] | None = None
    # (trained model, FinetuneConfig) -> extra Trainer callbacks the method needs
    callbacks: Callable[[Any, Any], list[Any]] | None = None
    # (trained model) -> facts the run record keeps after training (AdaLoRA's final ranks)
    report: Callable[[Any], dict[str, Any]] | None = None
    # Checks of the environment before any model loads (bitsandbytes for QLoRA)
    check: Callable[[], None] | None = None

    @property
    def quantized_base(self) -> bool:
        return self.quantization_section is not None

    def unmergeable_reason(self, save_format: str | None = None) -> str | None:
        """Why `llmkit merge` refuses this method's output (saved in `save_format`, default the method's own),
        or None when it merges."""
        from llmkit.tuning.save_formats import SAVE_FORMATS

        form = SAVE_FORMATS[save_format or self.save_format]
        return self.merge_refusal or (form.merge_refusal if form.merge is None else None)

    def hyperparameters(self, cfg: Any) -> list[tuple[str, Any, str]]:
        """(dotted key, value, help) of every field in the method's recipe section of `cfg`."""
        if self.section is None:
            return []
        values = getattr(cfg, self.section)
        return [(f"{self.section}.{f.name}", getattr(values, f.name), f.metadata.get("help", ""))
                for f in dataclasses.fields(values)]

    def with_lr(self, cfg: Any) -> Any:
        """`cfg` with train.lr taken from the method when neither a recipe nor --lr set it (0)."""
        return cfg if cfg.train.lr else replace(cfg, train=replace(cfg.train, lr=self.lr))

    def check_settings(self, cfg: Any) -> None:
        """Refuse combinations that would fail deep inside training, before any model loads."""
        if cfg.train.gradient_checkpointing and not self.gradient_checkpointing:
            raise LlmkitError(self.gradient_checkpointing_refusal)
        if self.check is not None:
            self.check()

    def quantization(self, cfg: Any) -> Any:
        """The section the base is quantised with, or None."""
        return getattr(cfg, self.quantization_section) if self.quantization_section else None


def parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, total) parameters; 4-bit weights count as their unpacked size."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel() * (2 if getattr(p, "quant_state", None) is not None else 1)  # two 4-bit values per byte
        total += n
        trainable += n if p.requires_grad else 0
    return trainable, total
