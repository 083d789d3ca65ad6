"""Pretrain a small causal LM from scratch: corpus -> BPE tokenizer -> packed blocks -> Trainer.

This is the path that builds llmkit's built-in base model (recipe `llama-tiny`).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config import PretrainConfig
from llmkit.data.packing import pack_into_blocks
from llmkit.errors import LlmkitError
from llmkit.run_dir import RunRecord, default_output, prepare_output_dir
from llmkit.training import distributed_summary, save_loss_curve, save_sharded_model, train_summary, training_arguments


def run(cfg: PretrainConfig) -> dict[str, Any]:
    output = Path(cfg.output) if cfg.output else default_output("pretrain", cfg.arch.type)
    texts = _corpus_texts(cfg)  # read before creating the output, so bad input leaves nothing behind
    prepare_output_dir(output, cfg.overwrite)
    record = RunRecord(output, "pretrain", cfg)

    record.start("tokenizer")
    tokenizer = _tokenizer(cfg, texts)
    record.stop("tokenizer")

    record.start("packing")
    documents = tokenizer(texts, add_special_tokens=False)["input_ids"]
    inputs, labels = pack_into_blocks(documents, cfg.corpus.block_size, tokenizer.eos_token_id,
                                      tokenizer.pad_token_id)
    n_tokens = sum(len(d) + 1 for d in documents)
    if n_tokens < 2 * cfg.corpus.block_size:
        raise LlmkitError(f"the corpus has {n_tokens} tokens, fewer than two blocks of "
                          f"{cfg.corpus.block_size}; add text or lower corpus.block_size")
    train_set, eval_set = _split(inputs, labels, cfg.corpus.validation_fraction, cfg.train.seed)
    record.stop("packing")
    console.info(f"corpus: {len(texts)} documents, {n_tokens:,} tokens -> {len(train_set)} training and "
                 f"{len(eval_set)} validation blocks of {cfg.corpus.block_size}")

    model = _model(cfg, tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    console.info(f"model: {cfg.arch.type}, {n_params / 1e6:.2f}M parameters")

    from transformers import Trainer

    from llmkit.rank_audit import RankAudit

    trainer = Trainer(model=model, args=training_arguments(cfg.train, output, has_eval=True),
                      train_dataset=train_set, eval_dataset=eval_set, processing_class=tokenizer,
                      callbacks=[RankAudit()])
    record.start("train")
    train_output = trainer.train()
    record.stop("train")
    eval_loss = trainer.evaluate()["eval_loss"]  # every rank takes part: validation is split between them
    metrics = {**train_summary(trainer, train_output), "eval_loss": round(eval_loss, 4),
               "eval_perplexity": round(math.exp(eval_loss), 3), "parameters": n_params}
    record.update(distributed=distributed_summary(trainer))
    weights_saved = save_sharded_model(trainer, output)  # every rank takes part in gathering shards
    if not console.is_main_process():  # rank 0 saves
        return {"output": output, "metrics": metrics}

    if not weights_saved:
        model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    save_loss_curve(trainer.state.log_history, output, f"pretrain {cfg.arch.type}")
    record.update(metrics=metrics)
    console.info(f"validation loss {eval_loss:.3f} (perplexity {math.exp(eval_loss):.2f}); "
                 f"{metrics['tokens_per_second']:.0f} tokens/s; saved to {output}")
    return {"output": output, "metrics": metrics}


def _corpus_texts(cfg: PretrainConfig) -> list[str]:
    if cfg.corpus.path:
        from llmkit.data.corpus import load_corpus_texts

        texts = load_corpus_texts(cfg.corpus.path, cfg.corpus.text_column)
        if not texts:
            raise LlmkitError(f"the corpus in {', '.join(cfg.corpus.path)} holds no text")
        return texts
    from llmkit.data.demo_corpus import demo_documents

    return list(demo_documents(cfg.corpus.builtin_documents, seed=cfg.train.seed))


def _tokenizer(cfg: PretrainConfig, texts: list[str]) -> Any:
    if cfg.tokenizer.path:
        from transformers import AutoTokenizer

        from llmkit.data.chat import ensure_chat_template

        tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer.path)
        ensure_chat_template(tokenizer)
        return tokenizer
    from llmkit.data.tokenizer import train_bpe_tokenizer

    return train_bpe_tokenizer(texts, cfg.tokenizer.vocab_size)


def _split(inputs: list[list[int]], labels: list[list[int]], fraction: float, seed: int):
    from datasets import Dataset

    order = list(range(len(inputs)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, round(len(order) * fraction))

    def subset(indices: list[int]) -> Any:
        return Dataset.from_dict({"input_ids": [inputs[i] for i in indices],
                                  "labels": [labels[i] for i in indices]})

    return subset(order[n_eval:]), subset(order[:n_eval])


def _model(cfg: PretrainConfig, tokenizer: Any) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from llmkit.data.chat import turn_end_token_ids

    arch = cfg.arch
    if arch.hidden_size % arch.heads:
        raise LlmkitError(f"arch.hidden_size {arch.hidden_size} is not divisible by arch.heads {arch.heads}")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size,
        num_hidden_layers=arch.layers,
        num_attention_heads=arch.heads,
        num_key_value_heads=arch.heads,
        max_position_embeddings=arch.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=turn_end_token_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(cfg.train.seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model

