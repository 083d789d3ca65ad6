"""Supervised fine-tuning of a causal LM on chat data with a method from the table (LoRA, ...).

Steps: 1. check inputs  2. base model + tokenizer  3. data -> masked token ids  4. score before
5. wrap with the method and train with Trainer  6. save adapter, tokenizer, recipe, run record, curve
7. score after and print the before/after table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config import FinetuneConfig
from llmkit.errors import LlmkitError
from llmkit.run_dir import RunRecord, check_output_dir, default_output, prepare_output_dir
from llmkit.training import save_loss_curve, train_summary, training_arguments
from llmkit.tuning.methods import get_method, parameter_counts


def run(cfg: FinetuneConfig) -> dict[str, Any]:
    # 1. Everything a user can get wrong is checked before a model loads.
    method = get_method(cfg.method)
    output = Path(cfg.output) if cfg.output else default_output("finetune", cfg.method)
    check_output_dir(output, cfg.overwrite)
    train_chats, eval_chats = load_conversations(cfg)

    # 2. Base model and tokenizer.
    from llmkit.models.loading import load_causal_lm

    base_path = cfg.model.path or str(_builtin_base())
    model, tokenizer = load_causal_lm(base_path, dtype=cfg.model.dtype,
                                      trust_remote_code=cfg.model.trust_remote_code)

    prepare_output_dir(output, cfg.overwrite)
    record = RunRecord(output, "finetune", cfg)
    record.update(base_model=base_path)

    # 3. Data.
    from llmkit.data.sft import tokenize_dataset

    record.start("tokenize")
    train_set, stats = tokenize_dataset(tokenizer, train_chats, cfg.data.max_length)
    record.stop("tokenize")
    console.info(f"data: {len(train_set)} training examples; {stats['truncated']} truncated to "
                 f"{cfg.data.max_length} tokens, {stats['dropped']} dropped (no answer left)")
    record.update(data=stats)

    # 4. Score the base model.
    scores: dict[str, float] = {}
    if eval_chats and cfg.eval.before:
        record.start("eval_before")
        scores["before"], _ = _score(model, tokenizer, eval_chats, cfg, "scoring base model")
        record.stop("eval_before")

    # 5. Train. Seed first: the adapter's initialisation is random, and Trainer only seeds later.
    from transformers import set_seed

    set_seed(cfg.train.seed)
    model = method.build(model, cfg)
    trainable, total = parameter_counts(model)
    console.info(f"method {method.name}: {trainable:,} trainable of {total:,} parameters "
                 f"({100 * trainable / total:.2f}%)")
    trainer = _trainer(model, tokenizer, train_set, cfg, output)
    record.start("train")
    train_output = trainer.train()
    record.stop("train")
    metrics = {**train_summary(trainer, train_output), "trainable_parameters": trainable,
               "total_parameters": total}

    # 6. Save what the method trained, with what is needed to use it.
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    save_loss_curve(trainer.state.log_history, output, f"finetune {method.name}")

    # 7. Score again and report.
    if eval_chats:
        record.start("eval_after")
        scores["after"], items = _score(model, tokenizer, eval_chats, cfg, "scoring fine-tuned model")
        record.stop("eval_after")
        _write_predictions(items, output / "predictions.jsonl")
    metrics.update({f"exact_match_{k}": round(v, 2) for k, v in scores.items()})
    record.update(metrics=metrics)
    console.info("\n" + summary_table(method.name, metrics, len(eval_chats)))
    console.info(f"saved to {output}")
    return {"output": output, "metrics": metrics}


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


def _builtin_base() -> Path:
    from llmkit.models.builtin import ensure_builtin_base

    return ensure_builtin_base()


def _trainer(model: Any, tokenizer: Any, train_set: Any, cfg: FinetuneConfig, output: Path) -> Any:
    from transformers import DataCollatorForSeq2Seq, Trainer

    from llmkit.data.collate import PackedRowsCollator

    if cfg.data.packing:
        collator = PackedRowsCollator(tokenizer.pad_token_id, row_tokens=cfg.data.max_length)
    else:
        collator = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)
    model.config.use_cache = False
    return Trainer(model=model, args=training_arguments(cfg.train, output), train_dataset=train_set,
                   data_collator=collator, processing_class=tokenizer)


def _score(model: Any, tokenizer: Any, chats: list[list[dict]], cfg: FinetuneConfig, desc: str):
    from llmkit.eval.exact_match import score_exact_match

    return score_exact_match(model, tokenizer, chats, max_new_tokens=cfg.eval.max_new_tokens,
                             batch_size=cfg.eval.batch_size, desc=desc)


def _write_predictions(items: list[Any], path: Path) -> None:
    import json

    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps({"question": item.prompt[-1]["content"], "reference": item.reference,
                                "prediction": item.prediction, "correct": item.correct},
                               ensure_ascii=False) + "\n")


def summary_table(method: str, metrics: dict[str, Any], n_eval: int) -> str:
    rows = []
    if "exact_match_before" in metrics:
        rows.append(["base model", f"{metrics['exact_match_before']:.1f}", "-", "-", "-"])
    if "exact_match_after" in metrics:
        after = f"{metrics['exact_match_after']:.1f}"
    else:
        after = "-"
    rows.append([f"+ {method}", after, f"{metrics['trainable_parameters']:,}",
                 f"{metrics['train_seconds']:.0f}", f"{metrics['tokens_per_second']:.0f}"])
    return console.table([f"model (held-out n={n_eval})", "exact match %", "trainable params",
                          "train s", "tokens/s"], rows)
