"""Train a recurrent character-level language model on a text file (`llmkit train --model lstm-charlm`).

Steps: 1. read the corpus, build the character tokenizer  2. cut the first (1 - test_fraction) of
the text into training blocks and the rest into validation blocks (a contiguous tail: no overlap
with training text)  3. train with Trainer  4. validation loss and perplexity per character, a
greedy sample from `generate`  5. save model + tokenizer (they load with AutoModelForCausalLM /
AutoTokenizer after `import llmkit`), curve and run record.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.classic import ClassicTrainConfig
from llmkit.distributed import is_main_process
from llmkit.errors import LlmkitError
from llmkit.models.classic.registry import Preset
from llmkit.plots.loss_curve import save_loss_curve
from llmkit.run_dir import RunRecord, prepare_output_dir, saving_into
from llmkit.training.replicas import distributed_summary
from llmkit.training.trainer import train_summary, training_arguments


def run(cfg: ClassicTrainConfig, preset: Preset, options: dict[str, Any], output: Path) -> dict[str, Any]:
    # 1. Corpus and tokenizer.
    if preset.input != "text":
        raise LlmkitError(f"{preset.name} is a classifier; a .txt corpus trains a character language model: "
                          f"use --model lstm-charlm")
    corpus = Path(cfg.data.path).expanduser()
    if corpus.suffix != ".txt" or not corpus.is_file():
        raise LlmkitError(f"{preset.name} trains on a text file: --data must be an existing .txt file, "
                          f"got {cfg.data.path}")
    text = corpus.read_text(encoding="utf-8")
    block = cfg.data.block_size
    cut = int(len(text) * (1 - cfg.data.test_fraction))
    if cut < 2 * (block + 1) or len(text) - cut < block + 1:
        raise LlmkitError(f"{corpus} has {len(text):,} characters: too few for blocks of {block} in both the "
                          f"training and validation parts; add text or lower data.block_size")
    from llmkit.data.chars import BlockDataset, blocks, char_tokenizer

    tokenizer = char_tokenizer(text[:cut])  # characters seen only in validation become <unk>
    train_blocks = blocks(tokenizer(text[:cut])["input_ids"], block)
    eval_blocks = blocks(tokenizer(text[cut:])["input_ids"], block)
    if cfg.data.limit:
        train_blocks = train_blocks[:cfg.data.limit]
    console.info(f"corpus: {corpus}, {len(text):,} characters, {len(tokenizer)} distinct; "
                 f"{len(train_blocks)} training and {len(eval_blocks)} validation blocks of {block}")

    # 2. Model.
    from transformers import Trainer, set_seed

    set_seed(cfg.train.seed)
    model = preset.build_model(**{"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id, **options})
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    n_params = sum(p.numel() for p in model.parameters())
    console.info(f"model: {preset.name} ({type(model).__name__}), {n_params:,} parameters")

    # 3. Train.
    args = training_arguments(cfg.train, output, has_eval=True, remove_unused_columns=False)
    record = None
    if is_main_process():
        prepare_output_dir(output, cfg.overwrite, cfg)
        record = RunRecord(output, "train", cfg)
        record.update(model={"preset": preset.name, "class": type(model).__name__, "parameters": n_params},
                      data={"source": str(corpus), "characters": len(text), "vocabulary": len(tokenizer),
                            "train_blocks": len(train_blocks), "validation_blocks": len(eval_blocks)})
        record.start("train")
    from llmkit.training.replicas import RankAudit

    trainer = Trainer(model=model, args=args, train_dataset=BlockDataset(train_blocks),
                      eval_dataset=BlockDataset(eval_blocks), processing_class=tokenizer, callbacks=[RankAudit()])
    train_output = trainer.train()
    eval_loss = trainer.evaluate()["eval_loss"]

    # 4. Score and sample.
    summary = train_summary(trainer, train_output)
    metrics = {"eval_loss": round(eval_loss, 4), "eval_perplexity": round(math.exp(eval_loss), 3),
               "train_loss": summary["train_loss"], "steps": summary["steps"],
               "epochs": round(trainer.state.epoch, 2), "train_seconds": summary["train_seconds"],
               "characters_per_second": summary["tokens_per_second"], "parameters": n_params,
               "world_size": args.world_size}
    if record is None:
        return {"output": output, "metrics": metrics}
    record.stop("train")
    prompt = text[cut:cut + 20]
    sample = generate_text(model, tokenizer, prompt, max_new_tokens=120)

    # 5. Save.
    with saving_into(output) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    save_loss_curve(trainer.state.log_history, output, f"train {preset.name}")
    record.update(metrics=metrics, sample={"prompt": prompt, "continuation": sample},
                  distributed=distributed_summary(trainer), status="finished")
    console.info(f"validation loss {eval_loss:.3f} per character (perplexity {math.exp(eval_loss):.2f})")
    console.info(f"sample: {prompt!r} -> {sample!r}")
    console.info(f"saved to {output}")
    return {"output": output, "metrics": metrics, "sample": sample}


def generate_text(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int) -> str:
    """Greedy continuation of `prompt` through transformers' `generate`."""
    import torch

    ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(model.device)
    model.eval()
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:])
