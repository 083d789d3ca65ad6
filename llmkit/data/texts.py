"""Labelled texts for the recurrent classifiers: a CSV or JSON Lines file with a text and a label column.

Texts become token ids with a tokenizer of yours (`data.tokenizer`: a local folder that
`AutoTokenizer` loads) or, by default, the character tokenizer of llmkit.data.chars built from the
training texts. Batches are padded per batch (`DataCollatorWithPadding`) and the RNN packs them, so
padding never reaches its final state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmkit.errors import LlmkitError

TEXT_SUFFIXES = (".csv", ".json", ".jsonl")


@dataclass
class TextData:
    train: Any
    test: Any
    classes: list[str]
    tokenizer: Any
    source: str


def is_text_table(path: str, text_column: str) -> bool:
    """Whether `path` is a CSV/JSONL file with a `text_column` (else it is read as numbers)."""
    file = Path(path).expanduser()
    if file.suffix not in TEXT_SUFFIXES or not file.is_file():
        return False
    return text_column in _load(file).column_names


def _load(file: Path) -> Any:
    from datasets import load_dataset

    return load_dataset("csv" if file.suffix == ".csv" else "json", data_files=str(file), split="train")


def load_text_classification(path: str, *, text_column: str, label_column: str, tokenizer: str | None,
                             max_length: int, test_fraction: float, split_seed: int, limit: int) -> TextData:
    from llmkit.data.images import _encode_labels, _split

    file = Path(path).expanduser()
    table = _load(file)
    if label_column not in table.column_names:
        raise LlmkitError(f"{file} has no column {label_column!r} (columns: {', '.join(table.column_names)}); "
                          f"set data.label_column")
    texts = [str(t) for t in table[text_column]]
    y, classes = _encode_labels(table[label_column])
    if len(classes) < 2:
        raise LlmkitError(f"{file} has {len(classes)} class; classification needs at least 2")
    train_idx, test_idx = _split(y, test_fraction, split_seed)
    if limit:
        train_idx = train_idx[:limit]
    tok = _tokenizer(tokenizer, [texts[i] for i in train_idx])

    def encode(indices: np.ndarray) -> list[dict[str, Any]]:
        enc = tok([texts[i] for i in indices], truncation=True, max_length=max_length)
        return [{"input_ids": ids, "labels": int(y[i])} for ids, i in zip(enc["input_ids"], indices)]

    return TextData(encode(train_idx), encode(test_idx), classes, tok, str(file))


def _tokenizer(path: str | None, train_texts: list[str]) -> Any:
    if path is None:
        from llmkit.data.chars import char_tokenizer

        return char_tokenizer("".join(train_texts))  # characters unseen in training become <unk>
    if not Path(path).expanduser().is_dir():
        raise LlmkitError(f"data.tokenizer {path} is not a folder; pass a local tokenizer folder "
                          f"(AutoTokenizer.from_pretrained) or leave it empty for characters")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        if tok.eos_token is None and tok.unk_token is None:
            raise LlmkitError(f"tokenizer {path} has no pad, eos or unk token to pad batches with")
        tok.pad_token = tok.eos_token or tok.unk_token  # masked out by attention_mask anyway
    return tok
