"""Merge what a method trained into its base model: a standalone model any transformers user can load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.merge import MergeConfig
from llmkit.errors import LlmkitError
from llmkit.run_dir import RunRecord, check_output_dir, prepare_output_dir, saving_into


def run(cfg: MergeConfig) -> dict[str, Any]:
    from llmkit.inference.loader import load_for_inference
    from llmkit.models.finetuned import read_manifest
    from llmkit.tuning.methods import get_method
    from llmkit.tuning.save_formats import SAVE_FORMATS

    if not cfg.adapter or not cfg.output:
        raise LlmkitError("merge needs the fine-tuning output to merge and an --output folder")
    output = Path(cfg.output)
    manifest = read_manifest(cfg.adapter)
    method = get_method(manifest.method)
    form = SAVE_FORMATS[manifest.format]
    refusal = method.unmergeable_reason(form.name)
    if refusal:
        raise LlmkitError(f"{method.name} cannot be merged: {refusal}")
    inputs = [cfg.adapter, cfg.base]
    check_output_dir(output, cfg.overwrite, inputs)
    # A QLoRA adapter merges into the full-precision base: merging into 4-bit weights would re-quantise.
    loaded = load_for_inference(cfg.base, adapter=cfg.adapter, dtype="float32", quantized=False,
                                job="merge")
    model, tokenizer = form.merge(loaded.model), loaded.tokenizer
    prepare_output_dir(output, cfg.overwrite, inputs)
    record = RunRecord(output, "merge", cfg)
    with saving_into(output) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    record.update(base_model=manifest.base_model, method=method.name, status="finished")
    console.info(f"merged model saved to {output}")
    return {"output": output}
