"""Merge what a method trained into its base model: a standalone model any transformers user can load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmkit.errors import LlmkitError
from llmkit.run_dir import RunRecord, check_output_dir, prepare_output_dir, saving_into


@dataclass
class MergeRun:
    """What `llmkit merge` was asked: the run record's config."""

    adapter: str
    base: str | None
    output: str


def merge_adapter(adapter: str, output: Path, *, base: str | None = None, overwrite: bool = False) -> Path:
    from llmkit.models.finetuned import load_finetuned, read_manifest
    from llmkit.tuning.methods import get_method
    from llmkit.tuning.save_formats import SAVE_FORMATS
    from llmkit.workflows.builtin_base import expand_builtin_base

    manifest = read_manifest(adapter)
    method = get_method(manifest.method)
    form = SAVE_FORMATS[manifest.format]
    refusal = method.unmergeable_reason(form.name)
    if refusal:
        raise LlmkitError(f"{method.name} cannot be merged: {refusal}")
    check_output_dir(output, overwrite, [adapter, base])
    # A QLoRA adapter merges into the full-precision base: merging into 4-bit weights would re-quantise.
    model, tokenizer = load_finetuned(adapter, base=base or expand_builtin_base(manifest.base_model), dtype="float32",
                                      quantized=False)
    model = form.merge(model)
    prepare_output_dir(output, overwrite, [adapter, base])
    record = RunRecord(output, "merge", MergeRun(adapter=str(adapter), base=base, output=str(output)))
    with saving_into(output) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    record.update(base_model=manifest.base_model, method=method.name, status="finished")
    return output
