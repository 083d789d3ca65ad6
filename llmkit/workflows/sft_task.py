"""The `sft` task of `llmkit finetune`: chat data -> answer-only labels -> held-out exact match."""

from __future__ import annotations

from typing import Any

from llmkit import console
from llmkit.config import FinetuneConfig
from llmkit.errors import LlmkitError


class SftTask:
    name = "sft"
    metric = "exact_match"
    labels: list[str] | None = None

    def __init__(self, cfg: FinetuneConfig):
        self.cfg = cfg
        self.train_chats, self.eval_chats = load_conversations(cfg)

    @property
    def n_train(self) -> int:
        return len(self.train_chats)

    @property
    def n_eval(self) -> int:
        return len(self.eval_chats)

    def tokenize(self, tokenizer: Any) -> tuple[Any, dict[str, int]]:
        from llmkit.data.sft import tokenize_dataset

        dataset, stats = tokenize_dataset(tokenizer, self.train_chats, self.cfg.data.max_length)
        console.info(f"data: {len(dataset)} training examples; {stats['truncated']} truncated to "
                     f"{self.cfg.data.max_length} tokens, {stats['dropped']} dropped (no answer left)")
        return dataset, stats

    def collator(self, tokenizer: Any, packing: bool) -> Any:
        if packing:
            from llmkit.data.collate import PackedRowsCollator

            return PackedRowsCollator(tokenizer.pad_token_id, row_tokens=self.cfg.data.max_length)
        from transformers import DataCollatorForSeq2Seq

        return DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)

    def score(self, model: Any, tokenizer: Any, desc: str) -> tuple[float, list[dict[str, Any]]]:
        """Held-out exact match (%) and one record per question."""
        from llmkit.eval.exact_match import score_exact_match

        accuracy, items = score_exact_match(model, tokenizer, self.eval_chats,
                                            max_new_tokens=self.cfg.eval.max_new_tokens,
                                            batch_size=self.cfg.eval.batch_size, desc=desc)
        return accuracy, [{"question": i.prompt[-1]["content"], "reference": i.reference,
                           "prediction": i.prediction, "correct": i.correct} for i in items]


def load_conversations(cfg: FinetuneConfig) -> tuple[list[list[dict]], list[list[dict]]]:
    """(training conversations, held-out conversations scored by exact match)."""
    if cfg.data.path is None:
        from llmkit.data.demo_tasks import demo_task_split

        train = [e["messages"] for e in demo_task_split("train", seed=cfg.train.seed)]
        held_out = [e["messages"] for e in demo_task_split("test", cfg.eval.max_samples, seed=0)]
    else:
        train = _read_conversations(cfg.data.path, cfg)
        held_out = _read_conversations(cfg.data.eval_path, cfg) if cfg.data.eval_path else []
    if cfg.data.limit:
        train = train[:cfg.data.limit]
    if cfg.data.system:
        train, held_out = ([[{"role": "system", "content": cfg.data.system}] + c
                            if c[0]["role"] != "system" else c for c in chats] for chats in (train, held_out))
    return train, held_out[:cfg.eval.max_samples]


def _read_conversations(path: str, cfg: FinetuneConfig) -> list[list[dict]]:
    from llmkit.data.sft import detect_format, load_records, to_messages

    records = load_records(path)
    form = cfg.data.format if cfg.data.format != "auto" else detect_format(records.column_names, records[0])
    try:
        return [to_messages(row, form) for row in records]
    except (KeyError, TypeError) as e:
        raise LlmkitError(f"data {path}: a record does not fit the {form} form ({e!r})") from None

