"""Text classification data for `--task classify`: records -> label names -> token ids.

Files are read through `datasets` like SFT data (JSON/JSONL/CSV/Parquet); labels may be names or
integers. Without --data, the built-in English sentiment task is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmkit.errors import LlmkitError

BUILTIN_TRAIN_EXAMPLES = 2000
BUILTIN_TEST_EXAMPLES = 400


@dataclass
class ClassificationData:
    train: list[dict[str, Any]]  # {"text", "text_pair"?, "label": name}
    test: list[dict[str, Any]]
    labels: list[str]
    refused_rows: list[dict[str, Any]] = field(default_factory=list)  # {"file", "line", "reason"}, both files


def load_classification_data(data: Any, seed: int) -> ClassificationData:
    """Read the train (and held-out) records named by a recipe's data section."""
    if data.path is None:
        from llmkit.data.demo_sentiment import LABELS, demo_sentiment_split

        return ClassificationData(demo_sentiment_split("train", BUILTIN_TRAIN_EXAMPLES, seed),
                                  demo_sentiment_split("test", BUILTIN_TEST_EXAMPLES, 0), list(LABELS))
    train, refused = _read(data.path, data)
    test, refused_test = _read(data.eval_path, data) if data.eval_path else ([], [])
    labels = sorted({r["label"] for r in train}, key=_label_order)
    unseen = sorted({r["label"] for r in test} - set(labels))
    if unseen:
        raise LlmkitError(f"data {data.eval_path}: label {unseen[0]!r} never occurs in the training data")
    if len(labels) < 2:
        raise LlmkitError(f"data {data.path}: a classifier needs at least two labels, found {labels}")
    return ClassificationData(train, test, labels, refused + refused_test)


def _label_order(label: str) -> tuple[int, Any]:
    # Integer labels keep their numeric order (so 0..N-1 map to themselves); names sort alphabetically.
    return (0, int(label)) if label.lstrip("-").isdigit() else (1, label)


def _read(path: str, data: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The file's records as {"text", "text_pair"?, "label"}, and the rows refused (an empty text or label)."""
    from llmkit.data.sft import BadRow, read_rows

    columns = {"text": data.text_column, "label": data.label_column}
    if data.text_pair_column:
        columns["text_pair"] = data.text_pair_column

    def converter(records: Any) -> Any:
        missing = [c for c in columns.values() if c not in records.column_names]
        if missing:
            raise LlmkitError(f"data {path}: no column {missing[0]!r} (columns: {', '.join(records.column_names)}); "
                              f"set data.text_column / data.label_column")
        return convert

    def convert(row: dict[str, Any]) -> dict[str, str]:
        for column in columns.values():
            if row[column] is None or str(row[column]).strip() == "":
                raise BadRow(f"{column!r} is empty")
        return {key: str(row[column]) for key, column in columns.items()}

    return read_rows(path, converter)


def tokenize_classification(tokenizer: Any, records: list[dict[str, Any]], labels: list[str],
                            max_length: int) -> Any:
    """A `datasets.Dataset` of input_ids, attention_mask (and token_type_ids) and integer labels."""
    from datasets import Dataset

    index = {name: i for i, name in enumerate(labels)}
    texts = [r["text"] for r in records]
    pairs = [r["text_pair"] for r in records] if records and "text_pair" in records[0] else None
    encoded = tokenizer(texts, pairs, truncation=True, max_length=max_length)
    return Dataset.from_dict({**encoded, "labels": [index[r["label"]] for r in records]})
