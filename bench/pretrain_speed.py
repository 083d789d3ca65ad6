"""CPU pretraining speed: llmkit's training loop vs a minimal raw PyTorch loop, same model, same data, one run.

Both train the same tiny-preset model (same initial weights) on the same packed blocks of the built-in
corpus: `llmkit` through `Pretrainer.fit` (what `llmkit pretrain` runs, with its logging and token
counting), the baseline as nanoGPT writes a loop (`model(input_ids, labels=...).loss`, backward, clip,
AdamW). Rounds alternate between the two on one thread, so load from other work on a shared machine
hits both alike; the figures are medians over rounds, and the ratio is the median of per-round ratios.

    OMP_NUM_THREADS=1 python bench/pretrain_speed.py [--arch llama] [--rounds 5] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="llama", choices=["llama", "gpt2", "bert"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side per round")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    import torch

    from llmkit.config import PretrainConfig, build_config
    from llmkit.pretraining.presets import apply_preset
    from llmkit.workflows import pretrain

    torch.set_num_threads(1)
    cfg = apply_preset(build_config(PretrainConfig, {
        "arch": {"type": args.arch, "preset": "tiny"}, "corpus": {"builtin_documents": 4000},
        "train": {"batch_size": args.batch_size, "max_steps": 2 * args.steps, "logging_steps": args.steps}}))
    texts = pretrain.corpus_texts(cfg)
    tokenizer = pretrain.pretrain_tokenizer(cfg, texts)
    blocks, _, _ = pretrain.packed_blocks(cfg, tokenizer, texts)
    tokens_per_step = args.batch_size * cfg.corpus.block_size
    print(f"{args.arch} tiny preset, {len(blocks)} blocks of {cfg.corpus.block_size}, batch {args.batch_size}, "
          f"{args.steps} timed steps per side per round, torch threads {torch.get_num_threads()}", flush=True)

    raw, ours, ratios = [], [], []
    for round_ in range(args.rounds):
        raw_tps = raw_loop(cfg, tokenizer, blocks, args.steps)
        ours_tps = llmkit_loop(cfg, tokenizer, blocks, args.steps, masked=args.arch == "bert")
        raw.append(raw_tps)
        ours.append(ours_tps)
        ratios.append(ours_tps / raw_tps)
        print(f"round {round_ + 1}: raw {raw_tps:,.0f} tokens/s, llmkit {ours_tps:,.0f} tokens/s, "
              f"ratio {ratios[-1]:.3f}", flush=True)

    print(f"\n| loop ({args.arch}, {tokens_per_step} tokens per step) | tokens/s (median of {args.rounds}) |")
    print("|---|---|")
    print(f"| minimal raw PyTorch loop | {statistics.median(raw):,.0f} |")
    print(f"| llmkit pretrain (Pretrainer.fit) | {statistics.median(ours):,.0f} |")
    print(f"| llmkit / raw (median of per-round ratios) | {statistics.median(ratios):.3f} |")


def raw_loop(cfg, tokenizer, blocks, steps: int) -> float:
    """nanoGPT's loop on the same model and blocks; `steps` warm-up steps, then `steps` timed ones."""
    import torch

    from llmkit.pretraining.architectures import Vocabulary, build_model

    model = build_model(cfg.arch, Vocabulary.of(tokenizer), cfg.train.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    generator = torch.Generator().manual_seed(0)
    masked = cfg.arch.type == "bert"
    for step in range(2 * steps):
        if step == steps:
            start = time.perf_counter()
        rows = torch.randint(len(blocks), (cfg.train.batch_size,), generator=generator)
        x, y = blocks.input_ids[rows], blocks.labels[rows]
        if masked:  # the simplest MLM corruption: 15% of tokens become [MASK], only those are scored
            chosen = torch.rand(x.shape, generator=generator) < 0.15
            x, y = torch.where(chosen, tokenizer.mask_token_id, x), torch.where(chosen, y, -100)
        loss = model(input_ids=x, labels=y).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    loss.item()
    return steps * cfg.train.batch_size * cfg.corpus.block_size / (time.perf_counter() - start)


def llmkit_loop(cfg, tokenizer, blocks, steps: int, masked: bool) -> float:
    """`Pretrainer.fit` as the workflow calls it; its second log window is the timed one."""
    from llmkit.pretraining.architectures import Vocabulary, build_model
    from llmkit.pretraining.loop import LogHooks, Pretrainer
    from llmkit.workflows.pretrain import _masking

    model = build_model(cfg.arch, Vocabulary.of(tokenizer), cfg.train.seed)
    trainer = Pretrainer(model, blocks, cfg.train, 2 * steps, masking=_masking(tokenizer) if masked else None)
    summary = trainer.fit(LogHooks(), logging_steps=steps, eval_steps=0, sample_steps=0, save_steps=0,
                          checkpoint_dir=None, keep_checkpoints=0)
    return summary["steady_tokens_per_second"]


if __name__ == "__main__":
    main()
