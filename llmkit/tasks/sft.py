"""The `sft` task of `llmkit finetune`: chat data -> answer-only labels -> held-out exact match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.finetune import FinetuneConfig

NUMERALS = "numerals"  # `--data numerals`: the built-in Chinese numerals task (data/demo_numerals.py)


class SftTask:
    name = "sft"
    metric = "exact_match"
    labels: list[str] | None = None

    def __init__(self, cfg: FinetuneConfig):
        self.cfg = cfg
        # Rows refused in the train and eval files, {"file", "line", "reason"}, for the run record.
        self.train_chats, self.eval_chats, self.refused_rows = load_conversations(cfg)

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
        from llmkit.eval.answer_scoring import score_exact_match

        accuracy, items = score_exact_match(model, tokenizer, self.eval_chats,
                                            max_new_tokens=self.cfg.eval.max_new_tokens,
                                            batch_size=self.cfg.eval.batch_size, desc=desc)
        return accuracy, [{"question": i.prompt[-1]["content"], "reference": i.reference,
                           "prediction": i.prediction, "correct": i.correct} for i in items]


def load_conversations(cfg: FinetuneConfig) -> tuple[list[list[dict]], list[list[dict]], list[dict]]:
    """(training conversations, held-out conversations scored by exact match, rows refused in either file)."""
    refused: list[dict] = []
    if cfg.data.path is None:
        from llmkit.data.demo_tasks import demo_task_split

        train = [e["messages"] for e in demo_task_split("train", seed=cfg.train.seed)]
        held_out = [e["messages"] for e in demo_task_split("test", cfg.eval.limit, seed=0)]
    elif cfg.data.path == NUMERALS and not Path(NUMERALS).exists():  # a file of that name is the user's
        from llmkit.data.demo_numerals import numerals_split

        train = [e["messages"] for e in numerals_split("train", seed=cfg.train.seed)]
        held_out = [e["messages"] for e in numerals_split("test")]
    else:
        train, refused = _read_conversations(cfg.data.path, cfg)
        held_out = []
    if cfg.data.eval_path:
        held_out, refused_eval = _read_conversations(cfg.data.eval_path, cfg)
        refused += refused_eval
    if cfg.data.limit:
        train = train[:cfg.data.limit]
    if cfg.data.system:
        train, held_out = ([[{"role": "system", "content": cfg.data.system}] + c
                            if c[0]["role"] != "system" else c for c in chats] for chats in (train, held_out))
    return train, held_out[:cfg.eval.limit], refused


def _read_conversations(path: str, cfg: FinetuneConfig) -> tuple[list[list[dict]], list[dict]]:
    from llmkit.data.sft import read_conversations

    return read_conversations(path, cfg.data.format)
