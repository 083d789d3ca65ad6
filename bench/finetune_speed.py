"""LoRA SFT throughput: llmkit vs a plain peft + Trainer script written as a user would.

Same model (the built-in base's shape, random weights: speed does not depend on them), same data
(variable-length multi-turn chats built from the demo tasks), same LoRA config, batch, steps and
learning rate. Tokens/s counts non-padding tokens only, for every variant. Rounds alternate the
variants so that machine noise hits them alike; the table gives medians and ratios to the baseline.

    python bench/finetune_speed.py [--rounds 3] [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path

import torch


def build_base(root: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    from llmkit.config import build_config
    from llmkit.config.pretrain import PretrainConfig
    from llmkit.data.chat import turn_end_token_ids
    from llmkit.data.demo_corpus import demo_documents
    from llmkit.data.tokenizer import train_bpe_tokenizer
    from llmkit.recipes import resolve

    arch = build_config(PretrainConfig, resolve("pretrain/llama-tiny").load()).arch
    tokenizer = train_bpe_tokenizer(demo_documents(4000), 4096)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=arch.hidden_size, num_hidden_layers=arch.layers,
                         intermediate_size=arch.intermediate_size, num_attention_heads=arch.heads,
                         num_key_value_heads=arch.heads, max_position_embeddings=arch.max_position_embeddings,
                         tie_word_embeddings=True, bos_token_id=None, eos_token_id=turn_end_token_ids(tokenizer),
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    path = root / "base"
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_data(root: Path, n: int) -> Path:
    """Chats of 1 to 12 question-answer turns: lengths from about 20 to 300 tokens."""
    from llmkit.data.demo_tasks import demo_task_split

    turns = [e["messages"] for e in demo_task_split("train", seed=1)]
    rng = random.Random(0)
    path = root / "chats.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for _ in range(n):
            messages = [m for chat in rng.sample(turns, rng.randint(1, 12)) for m in chat]
            f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    return path


def plain_peft_trainer(base: Path, data: Path, out: Path, steps: int, batch: int, flatten: bool = False) -> float:
    """The baseline: what a user writes with peft + Trainer, padding each batch to its longest example
    (or, with `flatten`, transformers' DataCollatorWithFlattening: the whole batch in one row)."""
    from datasets import load_dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        DataCollatorWithFlattening,
        Trainer,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                             "gate_proj", "up_proj", "down_proj"]))

    def tokenize(row):
        ids = tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=False)
        return {"input_ids": ids, "labels": list(ids)}

    dataset = load_dataset("json", data_files=str(data), split="train").map(tokenize, remove_columns=["messages"])
    args = TrainingArguments(output_dir=str(out), max_steps=steps, per_device_train_batch_size=batch,
                             learning_rate=2e-3, lr_scheduler_type="cosine", warmup_steps=0.03, logging_steps=10,
                             save_strategy="no", report_to="none", include_num_input_tokens_seen="non_padding",
                             seed=42, disable_tqdm=True)
    collator = DataCollatorWithFlattening() if flatten else DataCollatorForSeq2Seq(tokenizer, padding="longest")
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator,
                      processing_class=tokenizer)
    result = trainer.train()
    return trainer.state.num_input_tokens_seen / result.metrics["train_runtime"]


def llmkit_finetune(base: Path, data: Path, out: Path, steps: int, batch: int, packing: bool) -> float:
    from llmkit import console
    from llmkit.config import build_config
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.workflows import finetune

    console.set_quiet(True)
    cfg = build_config(FinetuneConfig, {
        "model": {"path": str(base)}, "data": {"path": str(data), "packing": packing},
        "output": str(out), "overwrite": True, "eval": {"limit": 0},
        "train": {"max_steps": steps, "batch_size": batch, "lr": 2e-3, "logging_steps": 10},
    })
    return finetune.run(cfg)["metrics"]["tokens_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="llmkit-bench-"))
    base, data = build_base(root), build_data(root, args.steps * args.batch)
    variants = {
        "plain peft + Trainer (pad to longest)": lambda: plain_peft_trainer(base, data, root / "plain", args.steps,
                                                                           args.batch),
        "plain peft + Trainer, DataCollatorWithFlattening": lambda: plain_peft_trainer(
            base, data, root / "flat", args.steps, args.batch, flatten=True),
        "llmkit finetune, padded": lambda: llmkit_finetune(base, data, root / "padded", args.steps, args.batch,
                                                           packing=False),
        "llmkit finetune, padding-free packing": lambda: llmkit_finetune(base, data, root / "packed", args.steps,
                                                                         args.batch, packing=True),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            results[name].append(run())

    from llmkit.console import table

    baseline = statistics.median(results[next(iter(variants))])
    rows = [[name, f"{statistics.median(v):.0f}", f"{min(v):.0f}-{max(v):.0f}",
             f"{statistics.median(v) / baseline:.2f}x"] for name, v in results.items()]
    print(f"\nLoRA SFT, {args.steps} steps x batch {args.batch}, {args.rounds} rounds, "
          f"torch threads {torch.get_num_threads()}")
    print(table(["variant", "tokens/s (median)", "range", "vs plain"], rows))


if __name__ == "__main__":
    main()
