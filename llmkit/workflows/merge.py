"""Merge a trained adapter into its base model: a standalone model any transformers user can load."""

from __future__ import annotations

from pathlib import Path

from llmkit.run_dir import check_output_dir, prepare_output_dir


def merge_adapter(adapter: str, output: Path, *, base: str | None = None, overwrite: bool = False) -> Path:
    from llmkit.models.loading import load_with_adapter

    check_output_dir(output, overwrite)
    model, tokenizer = load_with_adapter(adapter, base, dtype="float32")
    merged = model.merge_and_unload()
    prepare_output_dir(output, overwrite)
    merged.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output
