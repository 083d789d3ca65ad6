"""Reload what `llmkit finetune` saved, whatever the method: the base model plus what was trained.

Every finetune output holds `llmkit_finetune.json`, which says how to rebuild the model: the method
(and so the save format), the task, the base model, the labels of a classifier, and how the base was
quantised. An adapter folder written by someone else (peft's adapter_config.json only) loads too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmkit.errors import LlmkitError

MANIFEST = "llmkit_finetune.json"


@dataclass
class FinetuneManifest:
    method: str
    task: str
    base_model: str
    format: str  # a key of llmkit.tuning.save_formats.SAVE_FORMATS
    labels: list[str] | None = None
    quantization: dict[str, Any] | None = None  # the qlora section the base was loaded with
    trust_remote_code: bool = False
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # from_pretrained kwargs the base needs

    def write(self, output: Path) -> None:
        (output / MANIFEST).write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False), encoding="utf-8")


def read_manifest(path: str | Path) -> FinetuneManifest:
    """How to reload the output at `path` (a folder, or a Hub id fetched through the cache)."""
    from llmkit.hub.resolve import resolve_source

    folder = Path(resolve_source(str(path)))
    check_finished(folder)
    manifest = folder / MANIFEST
    if manifest.is_file():
        return FinetuneManifest(**json.loads(manifest.read_text(encoding="utf-8")))
    adapter_config = folder / "adapter_config.json"
    if adapter_config.is_file():  # a peft adapter from elsewhere
        config = json.loads(adapter_config.read_text(encoding="utf-8"))
        if not config.get("base_model_name_or_path"):
            raise LlmkitError(f"{adapter_config} does not name its base model; pass --base")
        task = "classify" if config.get("task_type") == "SEQ_CLS" else "sft"
        return FinetuneManifest(method="lora", task=task, base_model=config["base_model_name_or_path"],
                                format="adapter")
    raise LlmkitError(f"{path} is not a fine-tuning output (no {MANIFEST} or adapter_config.json)")


def is_finetune_output(path: str | Path) -> bool:
    """True for anything `llmkit finetune` wrote, finished or not (reading an unfinished one then says why)."""
    from llmkit.hub.resolve import resolve_source
    from llmkit.run_dir import RUN_RECORD

    folder = Path(resolve_source(str(path)))
    if (folder / MANIFEST).is_file() or (folder / "adapter_config.json").is_file():
        return True
    record = folder / RUN_RECORD
    return record.is_file() and json.loads(record.read_text(encoding="utf-8")).get("job") == "finetune"


def check_finished(folder: Path) -> None:
    """Refuse an output whose run did not finish: its weights are missing, partial, or from an earlier step."""
    from llmkit.run_dir import unfinished_reason
    from llmkit.training.checkpoints import CHECKPOINTS, checkpoints

    reason = unfinished_reason(folder)
    if reason is None:
        return
    advice = (f"continue it with `llmkit finetune --resume {folder}`" if checkpoints(folder / CHECKPOINTS)
              else "run it again")
    raise LlmkitError(f"{folder} is not a finished run: it {reason}; {advice}")


def load_finetuned(path: str | Path, *, base: str | None = None, dtype: str = "auto",
                   quantized: bool = True) -> tuple[Any, Any]:
    """(model, tokenizer) as they were at the end of training.

    quantized=False loads a QLoRA adapter onto a full-precision base (what merging wants). An output trained on
    llmkit's built-in base needs `base`: its folder, which llmkit.inference.load_for_inference builds and passes.
    """
    from llmkit.cache import BUILTIN_BASE_NAME
    from llmkit.hub.resolve import resolve_source
    from llmkit.models.loading import load_model, load_tokenizer

    folder = Path(resolve_source(str(path)))
    manifest = read_manifest(folder)
    if base is None and manifest.base_model == BUILTIN_BASE_NAME:
        raise LlmkitError(f"{path} was trained on llmkit's built-in base: load it with "
                          f"llmkit.inference.load_for_inference, which builds that base, or pass its folder as base")
    remote = manifest.trust_remote_code
    tokenizer = load_tokenizer(str(folder) if (folder / "tokenizer_config.json").is_file()
                               else (base or manifest.base_model), remote, chat=manifest.task == "sft")
    common = {"task": manifest.task, "dtype": dtype, "trust_remote_code": remote, "labels": manifest.labels,
              "pad_token_id": tokenizer.pad_token_id, "model_kwargs": manifest.model_kwargs}
    quantization = None
    if quantized and manifest.quantization:
        from llmkit.config import build_config
        from llmkit.tuning.methods import get_method, section_class

        section = get_method(manifest.method).quantization_section
        quantization = build_config(section_class(section), manifest.quantization, source=str(folder / MANIFEST))

    def load(path: str | None) -> Any:  # None: the base the output was trained on
        if path is not None:
            return load_model(path, **common)
        return load_model(base or manifest.base_model, quantization=quantization, **common)

    from llmkit.tuning.save_formats import SAVE_FORMATS

    return SAVE_FORMATS[manifest.format].load(folder, manifest.task, load), tokenizer
