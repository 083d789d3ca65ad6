"""CPU pretraining speed: llmkit's training loop vs a minimal raw PyTorch loop, same model, same data, one run.

Both train the same tiny-preset model (same initial weights) on the same packed blocks of the built-in
corpus: llmkit through `Pretrainer` (what `llmkit pretrain` runs: its per-step token count and
`train_step`, i.e. the body of `Pretrainer.fit`), the baseline as nanoGPT writes a loop
(`model(input_ids, labels=...).loss`, backward, clip, AdamW). This machine is shared and its load
drifts by 2x within minutes, so the two loops run in one process and take turns step by step (the
order flips every step); each step is timed alone and tokens/s is tokens per step over the median step
time. The ratio is of those medians.

    OMP_NUM_THREADS=1 python bench/pretrain_speed.py [--arch llama] [--steps 60] [--batch-size 16]
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
    parser.add_argument("--steps", type=int, default=60, help="timed steps per loop")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    import torch

    from llmkit.config import build_config
    from llmkit.config.pretrain import PretrainConfig
    from llmkit.pretraining.architectures import Vocabulary, build_model
    from llmkit.pretraining.loop import Pretrainer
    from llmkit.pretraining.presets import apply_preset
    from llmkit.workflows import pretrain

    torch.set_num_threads(1)
    total = args.warmup + args.steps
    cfg = apply_preset(build_config(PretrainConfig, {
        "arch": {"type": args.arch, "preset": "tiny"}, "corpus": {"builtin_documents": 4000},
        "train": {"batch_size": args.batch_size, "max_steps": total}}))
    texts = pretrain.corpus_texts(cfg)
    tokenizer = pretrain.pretrain_tokenizer(cfg, texts)
    blocks, _, _ = pretrain.packed_blocks(cfg, tokenizer, texts)
    tokens_per_step = args.batch_size * cfg.corpus.block_size
    print(f"{args.arch} tiny preset, {len(blocks)} blocks of {cfg.corpus.block_size}, batch {args.batch_size}, "
          f"{args.warmup} warm-up + {args.steps} timed steps per loop, torch threads {torch.get_num_threads()}",
          flush=True)

    vocab = Vocabulary.of(tokenizer)
    raw = RawLoop(build_model(cfg.arch, vocab, cfg.train.seed), cfg, tokenizer, blocks)
    masking = pretrain._masking(tokenizer) if args.arch == "bert" else None
    ours = Pretrainer(build_model(cfg.arch, vocab, cfg.train.seed), blocks, cfg.train, total, masking=masking)

    def llmkit_step() -> None:
        ours.step_tokens(ours.step)  # what fit does each step besides train_step
        ours.train_step()

    times: dict[str, list[float]] = {"raw": [], "llmkit": []}
    for step in range(total):
        turns = [("raw", raw.step), ("llmkit", llmkit_step)]
        for name, run_step in turns if step % 2 else reversed(turns):
            start = time.perf_counter()
            run_step()
            if step >= args.warmup:
                times[name].append(time.perf_counter() - start)

    raw_s, ours_s = statistics.median(times["raw"]), statistics.median(times["llmkit"])
    print(f"\n| loop ({args.arch} tiny, {tokens_per_step} tokens per step) | median step s | tokens/s |")
    print("|---|---|---|")
    print(f"| minimal raw PyTorch loop | {raw_s:.3f} | {tokens_per_step / raw_s:,.0f} |")
    print(f"| llmkit pretrain (Pretrainer) | {ours_s:.3f} | {tokens_per_step / ours_s:,.0f} |")
    print(f"| llmkit / raw | | {raw_s / ours_s:.3f} |")


class RawLoop:
    """nanoGPT's loop on the same model and blocks."""

    def __init__(self, model, cfg, tokenizer, blocks):
        import torch

        self.model, self.cfg, self.tokenizer, self.blocks = model, cfg, tokenizer, blocks
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
        self.generator = torch.Generator().manual_seed(0)

    def step(self) -> None:
        import torch

        rows = torch.randint(len(self.blocks), (self.cfg.train.batch_size,), generator=self.generator)
        x, y = self.blocks.input_ids[rows], self.blocks.labels[rows]
        if self.cfg.arch.type == "bert":  # the simplest MLM corruption: 15% of tokens become [MASK], only those scored
            chosen = torch.rand(x.shape, generator=self.generator) < 0.15
            x, y = torch.where(chosen, self.tokenizer.mask_token_id, x), torch.where(chosen, y, -100)
        loss = self.model(input_ids=x, labels=y).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


if __name__ == "__main__":
    main()
