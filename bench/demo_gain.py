"""The built-in demo end to end, as a new user runs it: `llmkit finetune --method lora`, at several torch
thread counts and seeds, each base model built from an empty cache.

A float sum depends on the order its terms are added in, and torch splits its work by thread count, so the
built-in base built on 1, 2 or 4 threads is a different model (each build is deterministic). The demo's
figure must hold for all of them. Rows:

- one per thread count (default 1, 2 and 4), each in its own empty cache: it builds the base, then runs the
  main job, both at that many threads;
- seeds (default 1, 2, 3) of the main job (`--set train.seed=N`) at the default 2 threads, on that
  thread count's base (so "cached": these runs do not build it).

Each row prints the base's validation loss, the held-out exact match before and after, and the wall time.
The spread is the largest minus the smallest "after" over all rows. Last, `llmkit chat` answers a
held-out question with the default row's adapter.

    python bench/demo_gain.py [--threads 1 2 4] [--seeds 1 2 3]
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

DEFAULT_THREADS = 2  # this project's machine: 2 cores, torch's default thread count there


def run(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "llmkit", *args], capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(f"llmkit {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start, result


def environment(cache: Path, threads: int) -> dict[str, str]:
    return {**os.environ, "LLMKIT_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads)}


def base_loss(cache: Path) -> float:
    [record] = list((cache / "models").glob("llama-tiny-*/llmkit_run.json"))
    return json.loads(record.read_text())["metrics"]["eval_loss"]


def main_job(root: Path, name: str, threads: int, seed: int | None) -> dict:
    cache = root / f"cache-{threads}-threads"
    output = root / name
    args = ["finetune", "--method", "lora", "--output", str(output)]
    if seed is not None:
        args += ["--set", f"train.seed={seed}"]
    cached = (cache / "models").is_dir()
    seconds, _ = run(args, environment(cache, threads))
    metrics = json.loads((output / "llmkit_run.json").read_text())["metrics"]
    return {"threads": threads, "seed": "recipe (42)" if seed is None else str(seed), "cached base": cached,
            "base loss": base_loss(cache), "before": metrics["exact_match_before"],
            "after": metrics["exact_match_after"], "seconds": seconds, "output": output, "metrics": metrics,
            "env": environment(cache, threads)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, DEFAULT_THREADS, 4])
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    args = parser.parse_args()
    from llmkit.console import table

    root = Path(tempfile.mkdtemp(prefix="llmkit-demo-"))
    rows = [main_job(root, f"threads-{t}", t, None) for t in args.threads]
    rows += [main_job(root, f"seed-{s}", DEFAULT_THREADS, s) for s in args.seeds]
    print(table(["threads", "main job seed", "base", "base validation loss", "exact match before",
                 "exact match after", "wall s"],
                [[str(r["threads"]), r["seed"], "cached" if r["cached base"] else "built in this run",
                  f"{r['base loss']:.4f}", f"{r['before']:.1f}%", f"{r['after']:.1f}%", f"{r['seconds']:.0f}"]
                 for r in rows]))
    after = [r["after"] for r in rows]
    print(f"held-out exact match after: {min(after):.1f}-{max(after):.1f}% (spread {max(after) - min(after):.1f} "
          f"points over {len(rows)} runs)")

    default = next((r for r in rows if r["threads"] == DEFAULT_THREADS), rows[0])
    print(f"{default['threads']} threads, recipe seed: {default['metrics']['trainable_parameters']:,} trainable "
          f"parameters, {default['metrics']['tokens_per_second']:.0f} tokens/s")
    predictions = [json.loads(line) for line in (default["output"] / "predictions.jsonl").open(encoding="utf-8")]
    question = next(p for p in predictions if p["correct"])
    _, chat = run(["chat", str(default["output"]), "--prompt", question["question"], "--max-new-tokens", "12"],
                  default["env"])
    answer = chat.stdout.strip().splitlines()[-1].strip()
    print(f"llmkit chat: {question['question']!r} -> {answer!r} (reference {question['reference']!r}): "
          f"{'correct' if answer == question['reference'] else 'WRONG'}")


if __name__ == "__main__":
    main()
