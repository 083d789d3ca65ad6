"""GPU pretraining throughput: `llmkit pretrain`'s training code vs a nanoGPT-style compiled loop, one run.

GPT-2 124M shape (preset gpt2-124m: 12 layers, 768 wide, 12 heads, vocabulary 50257 padded to 50304),
sequence 1024, bf16, random tokens, one process. Both sides train the same transformers GPT2LMHeadModel:

- baseline: a raw PyTorch loop as nanoGPT writes it: torch.compile(model), autocast bf16,
  `model(input_ids, labels=...).loss` (transformers' loss), backward, clip, fused AdamW; no host sync per step.
- llmkit: `Pretrainer` from llmkit/pretraining/loop.py, built and stepped by the functions `llmkit pretrain`
  runs (`fit`, with its per-step token counting and logging), from the same recipe keys the CLI reads.

Each side runs warm-up steps (compilation) and then timed steps; tokens/s is measured between two
CUDA synchronisations, and MFU uses nanoGPT's 6N + 12*L*H*Q*T FLOPs per token over the device's dense
bf16 peak from llmkit's table (989 TFLOP/s for H100 SXM and H200), as the llmkit rows' own MFU does.
Optional rows (a larger batch, Liger's eager loss) run only while the time budget allows, so the whole
script stays within about 4 minutes.

    python bench/pretrain_gpu.py             # CUDA machine
    python bench/pretrain_gpu.py --smoke     # CPU, tiny shape, seconds: the same code, for testing
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))



def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny shape, eager: checks the script in seconds")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps (compilation happens here)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--budget-s", type=float, default=210.0, help="skip optional rows past this many seconds")
    return parser.parse_args()


def shape_keys(smoke: bool) -> dict:
    """The recipe keys of both models: llmkit's gpt2-124m preset, or a tiny one for --smoke."""
    if smoke:
        return {"type": "gpt2", "preset": "tiny", "hidden_size": 64, "layers": 2, "heads": 2,
                "intermediate_size": 256, "max_position_embeddings": 64}
    return {"type": "gpt2", "preset": "gpt2-124m"}


def pretrain_config(args: argparse.Namespace, batch_size: int, **train: object):
    from llmkit.config import build_config
    from llmkit.config.pretrain import PretrainConfig
    from llmkit.pretraining.presets import apply_preset

    smoke = {"corpus": {"block_size": 64}, "tokenizer": {"vocab_size": 500}} if args.smoke else {}
    train_keys = {"batch_size": batch_size, "max_steps": args.warmup + args.steps, "lr": 6e-4,
                  "warmup_steps": 0.0, "weight_decay": 0.1, "logging_steps": args.warmup, **train}
    return apply_preset(build_config(PretrainConfig, {"arch": shape_keys(args.smoke), "train": train_keys,
                                                      **smoke}, source="bench"))


def random_blocks(cfg, n_blocks: int):
    import torch

    from llmkit.pretraining.loop import Blocks

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(cfg.tokenizer.vocab_size, (n_blocks, cfg.corpus.block_size), generator=generator)
    return Blocks(ids, ids.clone())


def vocabulary(cfg):
    from llmkit.pretraining.architectures import Vocabulary

    last = cfg.tokenizer.vocab_size - 1  # GPT-2's <|endoftext|> is its last token
    return Vocabulary(cfg.tokenizer.vocab_size, last, [last])


def synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run_baseline(args: argparse.Namespace, cfg) -> dict:
    """nanoGPT's loop on the same transformers model, written out by hand (no llmkit code in the step)."""
    import torch

    from llmkit.pretraining.architectures import build_model
    from llmkit.pretraining.throughput import model_flops_per_token

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    model = build_model(cfg.arch, vocabulary(cfg), seed=0).to(device)
    flops = model_flops_per_token(model, cfg.corpus.block_size)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=6e-4, fused=cuda or None)
    step_model = torch.compile(model, dynamic=False) if cuda else model
    blocks = random_blocks(cfg, args.batch_size * 64).input_ids.to(device)
    dtype = torch.bfloat16 if cuda else torch.float32

    start = time.perf_counter()
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            synchronize()
            timed_from = time.perf_counter()
            warmup_s = timed_from - start
        rows = torch.arange(step * args.batch_size, (step + 1) * args.batch_size, device=device) % len(blocks)
        x = blocks[rows]
        with torch.autocast(device.type, dtype=dtype, enabled=cuda):
            loss = step_model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    synchronize()
    seconds = time.perf_counter() - timed_from
    return {"tokens_per_second": args.steps * args.batch_size * cfg.corpus.block_size / seconds,
            "flops_per_token": flops, "warmup_s": warmup_s, "final_loss": loss.item()}


def run_llmkit(args: argparse.Namespace, cfg) -> dict:
    """llmkit's own path: build_model -> Pretrainer -> fit, exactly as workflows/pretrain.py calls them."""
    from llmkit.pretraining.architectures import build_model
    from llmkit.pretraining.loop import LogHooks, Pretrainer
    from llmkit.pretraining.throughput import device_peak_tflops, model_flops_per_token

    model = build_model(cfg.arch, vocabulary(cfg), seed=0)
    flops = model_flops_per_token(model, cfg.corpus.block_size)
    peak, _ = device_peak_tflops(cfg.monitor.peak_tflops, cfg.train.bf16)
    blocks = random_blocks(cfg, cfg.train.batch_size * 64)  # more steps than the run: one epoch, as in real training
    trainer = Pretrainer(model, blocks, cfg.train, cfg.train.max_steps, flops_per_token=flops, peak_tflops=peak)
    start = time.perf_counter()
    # logging_steps = warm-up: the first log window holds compilation, the rest are the timed steps.
    summary = trainer.fit(LogHooks(), logging_steps=cfg.train.logging_steps, eval_steps=0, sample_steps=0,
                          save_steps=0, checkpoint_dir=None, keep_checkpoints=0)
    first = next(e for e in trainer.log_history if "tokens_per_second" in e)
    return {"tokens_per_second": summary["steady_tokens_per_second"], "flops_per_token": flops,
            "warmup_s": first["seconds"], "final_loss": trainer.log_history[-1]["loss"],
            "loss_kind": trainer.loss_kind, "total_s": time.perf_counter() - start}


def release() -> None:
    import torch

    gc.collect()
    torch._dynamo.reset()  # each row compiles afresh: no recompilation with dynamic shapes from a previous row
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gib() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def main() -> None:
    args = parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # the fit loop's progress bar; this script prints its own lines
    if args.smoke:
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
        args.warmup, args.steps, args.batch_size = 2, 4, 4
    import torch

    if not args.smoke and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --smoke to check the script on a CPU")
    from llmkit.pretraining.throughput import device_peak_tflops, mfu

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU (smoke)"
    peak, peak_source = device_peak_tflops(0.0, bf16=True)  # llmkit's table, as the llmkit rows use it
    print(f"device: {device}; torch {torch.__version__}; peak: {peak_source}", flush=True)
    began = time.perf_counter()
    compile_s = 0.0
    rows = [
        # (name, runner, batch size, train keys, required)
        ("nanoGPT-style loop, compiled", run_baseline, args.batch_size, {}, True),
        ("llmkit pretrain (defaults)", run_llmkit, args.batch_size, {}, True),
        ("llmkit, eager + Liger fused CE", run_llmkit, args.batch_size, {"torch_compile": False}, False),
        ("llmkit pretrain, batch x2", run_llmkit, 2 * args.batch_size, {}, False),
    ]
    results = []
    for name, runner, batch_size, train_keys, required in rows:
        elapsed = time.perf_counter() - began
        compiles = train_keys.get("torch_compile", True)
        expected_s = (1.3 * compile_s if compiles else 0.0) + 20
        if not required and elapsed + expected_s > args.budget_s:
            results.append((name, batch_size, None, f"skipped: {elapsed:.0f}s used of a {args.budget_s:.0f}s budget"))
            continue
        cfg = pretrain_config(args, batch_size, **train_keys)
        row_args = argparse.Namespace(**{**vars(args), "batch_size": batch_size})
        try:
            result = runner(row_args, cfg)
            result["peak_gib"] = peak_memory_gib()
            compile_s = max(compile_s, result["warmup_s"])
            results.append((name, batch_size, result, ""))
            print(f"{name}: {result['tokens_per_second']:,.0f} tokens/s (warm-up {result['warmup_s']:.0f}s)",
                  flush=True)
        except Exception as error:  # one failing row must not hide the others' figures
            traceback.print_exc()
            results.append((name, batch_size, None, f"failed: {type(error).__name__}: {str(error)[:80]}"))
        release()

    seq = 64 if args.smoke else 1024
    print(f"\nGPT-2 {'tiny (smoke)' if args.smoke else '124M'} shape, seq {seq}, "
          f"{'fp32 CPU' if args.smoke else 'bf16'}, {args.steps} timed steps after {args.warmup} warm-up, "
          f"on {device}; MFU = tokens/s x (6N + 12*L*H*Q*T) / {peak or '(no peak)'} TFLOP/s")
    header = f"| {'run':34} | batch | tokens/s   | MFU    | warm-up s | peak GiB | loss kind / note"
    print(header)
    print("|" + "-" * (len(header) - 1))
    for name, batch_size, result, note in results:
        if result is None:
            print(f"| {name:34} | {batch_size:5} | {'-':10} | {'-':6} | {'-':9} | {'-':8} | {note}")
            continue
        achieved = mfu(result["tokens_per_second"], result["flops_per_token"], peak)
        shown = f"{achieved:.1%}" if achieved is not None else "-"
        memory = f"{result['peak_gib']:.1f}" if result["peak_gib"] is not None else "-"
        print(f"| {name:34} | {batch_size:5} | {result['tokens_per_second']:10,.0f} | {shown:>6} | "
              f"{result['warmup_s']:9.1f} | {memory:8} | {result.get('loss_kind', 'transformers loss (HF)')}")
    print(f"total {time.perf_counter() - began:.0f}s", flush=True)
    if os.environ.get("OUT"):  # the device machine's result folder, when there is one
        import json

        rows_out = [{"run": name, "batch": batch, "note": note, **(result or {})}
                    for name, batch, result, note in results]
        path = Path(os.environ["OUT"]) / "pretrain_gpu.json"
        path.write_text(json.dumps({"device": device, "torch": torch.__version__, "rows": rows_out}, indent=1))


if __name__ == "__main__":
    main()
