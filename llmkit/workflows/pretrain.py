"""Pretrain a small GPT-2, LLaMA or BERT from scratch: corpus -> tokenizer -> packed blocks -> train -> save.

This is also the path that builds llmkit's built-in base model (recipe `llama-tiny`).
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.pretrain import PretrainConfig
from llmkit.distributed import is_main_process, weights_are_sharded, world_size
from llmkit.errors import LlmkitError
from llmkit.plots.loss_curve import save_loss_curve
from llmkit.pretraining.architectures import Vocabulary, build_model, is_masked_lm
from llmkit.pretraining.loop import Blocks, LogHooks, Masking, Pretrainer
from llmkit.pretraining.presets import apply_preset
from llmkit.run_dir import (
    RunRecord,
    check_free_space,
    checkpoint_bytes,
    claim_output_dir,
    default_output,
    prepare_output_dir,
    saving_into,
)
from llmkit.training.checkpoints import CHECKPOINTS, checkpoint_to_resume

SAMPLES = "samples.jsonl"


def run(cfg: PretrainConfig) -> dict[str, Any]:
    if weights_are_sharded():
        raise LlmkitError("llmkit pretrain trains data-parallel (DDP: every rank holds the whole model); launch it "
                          "without FSDP or DeepSpeed ZeRO-3")
    cfg = apply_preset(cfg)
    output = Path(cfg.output) if cfg.output else default_output("pretrain", cfg.arch.type)
    resume_from = (checkpoint_to_resume(Path(cfg.output) if cfg.output else None, "every monitor.save_steps steps")
                   if cfg.resume else None)
    texts = corpus_texts(cfg)  # read before creating the output, so bad input leaves nothing behind
    if resume_from is None:
        prepare_output_dir(output, cfg.overwrite, cfg)
    else:
        claim_output_dir(output)
    record = RunRecord(output, "pretrain", cfg)

    # 1. Tokenizer: trained on the corpus (or reused), saved first so that a resumed run reads the same one.
    record.start("tokenizer")
    tokenizer = pretrain_tokenizer(cfg, texts, output if resume_from else None)
    if is_main_process():
        tokenizer.save_pretrained(output)
    record.stop("tokenizer")

    # 2. Pack the documents into blocks with a separator after each, then split off validation blocks.
    record.start("packing")
    train_blocks, eval_blocks, n_tokens = packed_blocks(cfg, tokenizer, texts)
    record.stop("packing")
    console.info(f"corpus: {len(texts):,} documents, {n_tokens:,} tokens -> {len(train_blocks):,} training and "
                 f"{len(eval_blocks):,} validation blocks of {cfg.corpus.block_size}")

    # 3. The model, and the loop that trains it.
    from llmkit.pretraining.throughput import device_peak_tflops, model_flops_per_token

    model = build_model(cfg.arch, Vocabulary.of(tokenizer), cfg.train.seed)
    n_params = sum(p.numel() for p in model.parameters())
    flops = model_flops_per_token(model, cfg.corpus.block_size)
    peak, peak_source = device_peak_tflops(cfg.monitor.peak_tflops, cfg.train.bf16)
    masking = _masking(tokenizer) if is_masked_lm(cfg.arch.type) else None
    rows_per_step = cfg.train.batch_size * cfg.train.grad_accum * world_size()  # an epoch is shared by the ranks
    total_steps = cfg.train.max_steps or math.ceil(cfg.train.epochs * len(train_blocks) / rows_per_step)
    trainer = Pretrainer(model, train_blocks, cfg.train, total_steps, masking=masking, flops_per_token=flops,
                         peak_tflops=peak)
    if is_main_process():
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
        check_free_space(output, weights + checkpoint_bytes(weights, total_steps, cfg.monitor.save_steps,
                                                            cfg.monitor.keep_checkpoints),
                         "the model and its checkpoints")
    if resume_from is not None:
        trainer.load_checkpoint(resume_from)
        console.info(f"resuming from {resume_from} (step {trainer.step} of {total_steps})")
    console.info(f"model: {cfg.arch.type}, {cfg.arch.layers} blocks x {cfg.arch.hidden_size} wide, {cfg.arch.heads} "
                 f"heads, {n_params / 1e6:.2f}M parameters, "
                 f"{flops / 1e6:.1f} MFLOPs per token; {total_steps} steps of {rows_per_step} blocks; "
                 f"loss: {trainer.loss_kind}; MFU peak: {peak_source}")

    # 4. Train, with validation, samples and checkpoints along the way.
    monitor = cfg.monitor
    hooks = LogHooks(evaluate=lambda step: _evaluate(trainer, eval_blocks, monitor.eval_batches, step),
                     sample=lambda step: _log_samples(cfg, trainer.unwrapped, tokenizer, eval_blocks, record, step))
    record.start("train")
    throughput = trainer.fit(hooks, logging_steps=cfg.train.logging_steps, eval_steps=monitor.eval_steps,
                             sample_steps=monitor.sample_steps, save_steps=monitor.save_steps,
                             checkpoint_dir=output / CHECKPOINTS, keep_checkpoints=monitor.keep_checkpoints)
    record.stop("train")
    record.update(distributed=trainer.replicas())

    # 5. Save a model that the Auto classes load; a finished run needs no checkpoints.
    final_eval = next(e for e in reversed(trainer.log_history) if "eval_loss" in e)
    train_losses = [e["loss"] for e in trainer.log_history if "loss" in e]
    metrics = {**{k: v for k, v in final_eval.items() if k != "step"}, **throughput,
               "final_train_loss": train_losses[-1], "steps": trainer.step, "parameters": n_params,
               "flops_per_token": flops, "mfu_peak": peak_source, "loss_kind": trainer.loss_kind,
               "corpus_tokens": n_tokens, "train_blocks": len(train_blocks), "validation_blocks": len(eval_blocks)}
    if trainer.accelerator.is_main_process:
        with saving_into(output) as staging:
            trainer.unwrapped.save_pretrained(staging)
        shutil.rmtree(output / CHECKPOINTS, ignore_errors=True)
        save_loss_curve(trainer.log_history, output, f"pretrain {cfg.arch.type} ({cfg.arch.preset})")
        record.update(metrics=metrics, status="finished")
    shown = ", ".join(f"{k} {v}" for k, v in final_eval.items() if k != "step")
    speed = f"{metrics.get('tokens_per_second', 0):,.0f} tokens/s"
    if "mfu" in metrics:
        speed += f", MFU {metrics['mfu']:.1%}"
    console.info(f"{shown}; {speed}; saved to {output}")
    return {"output": output, "metrics": metrics, "log_history": trainer.log_history, "model": trainer.unwrapped}


def corpus_texts(cfg: PretrainConfig) -> list[str]:
    """The documents of `cfg.corpus`: read from its files, or the built-in corpus generated."""
    if cfg.corpus.path:
        from llmkit.data.corpus import load_corpus_texts

        texts = load_corpus_texts(cfg.corpus.path, cfg.corpus.text_column, streaming=cfg.corpus.streaming,
                                  max_documents=cfg.corpus.max_documents)
        if not texts:
            raise LlmkitError(f"the corpus in {', '.join(cfg.corpus.path)} holds no text")
        return texts
    from llmkit.data.demo_corpus import demo_documents

    return list(demo_documents(cfg.corpus.max_documents or cfg.corpus.builtin_documents, seed=cfg.train.seed))


def pretrain_tokenizer(cfg: PretrainConfig, texts: list[str], saved: Path | None = None) -> Any:
    """The tokenizer in `saved` (a resumed run's) or tokenizer.path, else one trained on `texts` for the arch."""
    path = saved or cfg.tokenizer.path
    if path:
        from transformers import AutoTokenizer

        from llmkit.data.chat import ensure_chat_template

        tokenizer = AutoTokenizer.from_pretrained(path)
        if is_masked_lm(cfg.arch.type) and tokenizer.mask_token_id is None:
            raise LlmkitError(f"tokenizer {path} has no mask token, which BERT's masked LM needs; "
                              f"leave tokenizer.path unset to train a WordPiece one")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.sep_token
        if not is_masked_lm(cfg.arch.type):
            ensure_chat_template(tokenizer)
        return tokenizer
    if is_masked_lm(cfg.arch.type):
        from llmkit.data.wordpiece import train_wordpiece_tokenizer

        return train_wordpiece_tokenizer(texts, cfg.tokenizer.vocab_size)
    from llmkit.data.tokenizer import train_bpe_tokenizer

    return train_bpe_tokenizer(texts, cfg.tokenizer.vocab_size)


def packed_blocks(cfg: PretrainConfig, tokenizer: Any, texts: list[str]) -> tuple[Blocks, Blocks, int]:
    """(training blocks, validation blocks, corpus tokens): documents packed with a separator after each."""
    import torch

    from llmkit.data.packing import pack_into_blocks

    block_size = cfg.corpus.block_size
    separator = tokenizer.sep_token_id if is_masked_lm(cfg.arch.type) else tokenizer.eos_token_id
    if separator is None:
        raise LlmkitError("the tokenizer has no end-of-text token to put between documents; "
                          "use a tokenizer with an eos_token (or sep_token for BERT)")
    documents = tokenizer(texts, add_special_tokens=False)["input_ids"]
    n_tokens = sum(len(d) + 1 for d in documents)
    if n_tokens < 2 * block_size:
        raise LlmkitError(f"the corpus has {n_tokens:,} tokens, fewer than two blocks of {block_size} (one to "
                          f"train on, one to validate); add text or lower corpus.block_size")
    inputs, labels = pack_into_blocks(documents, block_size, separator, tokenizer.pad_token_id)
    order = list(range(len(inputs)))
    random.Random(cfg.train.seed).shuffle(order)
    n_eval = max(1, round(len(order) * cfg.corpus.validation_fraction))
    input_ids, label_ids = torch.tensor(inputs), torch.tensor(labels)

    def subset(indices: list[int]) -> Blocks:
        index = torch.tensor(indices)
        return Blocks(input_ids[index], label_ids[index])

    return subset(order[n_eval:]), subset(order[:n_eval]), n_tokens


def _masking(tokenizer: Any) -> Masking:
    return Masking(mask_id=tokenizer.mask_token_id, vocab_size=len(tokenizer), special_ids=tokenizer.all_special_ids)


def _evaluate(trainer: Pretrainer, blocks: Blocks, max_batches: int, step: int) -> dict[str, float]:
    metrics = trainer.validate(blocks, max_batches)
    console.info(f"step {step}: " + ", ".join(f"{k} {v}" for k, v in metrics.items()))
    return metrics


def _log_samples(cfg: PretrainConfig, model: Any, tokenizer: Any, blocks: Blocks, record: RunRecord,
                 step: int) -> None:
    from llmkit.pretraining.samples import causal_samples, fill_mask_examples

    if is_masked_lm(cfg.arch.type):
        rows = fill_mask_examples(model, tokenizer, blocks, cfg.monitor.num_samples, cfg.monitor.sample_tokens,
                                  cfg.train.seed)
        lines = [f"  {r['masked']!r} -> {r['filled']!r} ({r['correct']} right)" for r in rows]
    else:
        rows = causal_samples(model, tokenizer, blocks, cfg.monitor.num_samples, cfg.monitor.sample_tokens)
        lines = [f"  {r['prompt']!r} -> {r['continuation']!r}" for r in rows]
    console.info(f"step {step} samples:\n" + "\n".join(lines))
    if not is_main_process():
        return
    with open(record.path.parent / SAMPLES, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps({"step": step, **row}, ensure_ascii=False) + "\n")
    record.save()  # lists the samples file, which a run killed later leaves behind
