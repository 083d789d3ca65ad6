"""The `classify` task of `llmkit finetune`: text (pairs) -> a new classification head -> held-out accuracy."""

from __future__ import annotations

from typing import Any

from llmkit import console
from llmkit.config.finetune import FinetuneConfig


class ClassifyTask:
    name = "classify"
    metric = "accuracy"

    def __init__(self, cfg: FinetuneConfig):
        from llmkit.data.classification import load_classification_data

        self.cfg = cfg
        self.data = load_classification_data(cfg.data, cfg.train.seed)
        if cfg.data.limit:
            self.data.train = self.data.train[:cfg.data.limit]
        self.data.test = self.data.test[:cfg.eval.limit]
        self.labels: list[str] = self.data.labels
        self.refused_rows = self.data.refused_rows

    @property
    def n_train(self) -> int:
        return len(self.data.train)

    @property
    def n_eval(self) -> int:
        return len(self.data.test)

    def tokenize(self, tokenizer: Any) -> tuple[Any, dict[str, int]]:
        from llmkit.data.classification import tokenize_classification

        dataset = tokenize_classification(tokenizer, self.data.train, self.labels, self.cfg.data.max_length)
        console.info(f"data: {len(dataset)} training examples, labels: {', '.join(self.labels)}")
        return dataset, {"examples": len(dataset), "labels": len(self.labels)}

    def collator(self, tokenizer: Any, packing: bool) -> Any:
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer)  # one sequence per row: classifiers pool one sequence

    def score(self, model: Any, tokenizer: Any, desc: str) -> tuple[float, list[dict[str, Any]]]:
        """Held-out accuracy (%) and one record per example."""
        predictions = predict_labels(model, tokenizer, self.data.test, self.cfg.eval.batch_size,
                                     self.cfg.data.max_length, desc)
        items = [{"text": r["text"], "reference": r["label"], "prediction": self.labels[p],
                  "correct": self.labels[p] == r["label"]} for r, p in zip(self.data.test, predictions)]
        accuracy = 100.0 * sum(i["correct"] for i in items) / len(items) if items else 0.0
        return accuracy, items


def predict_labels(model: Any, tokenizer: Any, records: list[dict[str, Any]], batch_size: int,
                   max_length: int, desc: str = "classifying") -> list[int]:
    """The arg-max label index of each record, in batches (right padding; classifiers pool the last real token)."""
    import torch
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    predictions: list[int] = []
    try:
        for start in tqdm(range(0, len(records), batch_size), desc=desc, unit="batch", leave=False):
            chunk = records[start:start + batch_size]
            pairs = [r["text_pair"] for r in chunk] if "text_pair" in chunk[0] else None
            batch = tokenizer([r["text"] for r in chunk], pairs, truncation=True, max_length=max_length,
                              padding=True, return_tensors="pt").to(device)
            with torch.no_grad():
                predictions += model(**batch).logits.argmax(-1).tolist()
    finally:
        model.train(was_training)
    return predictions
