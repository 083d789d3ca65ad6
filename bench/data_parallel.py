"""Data parallelism on CPU: one process at batch 64 against `--num-processes 2` at 32 per rank (global 64).

Both rows run `llmkit train --model mlp` on the built-in digits (dropout off, 1,280 training examples,
an epoch or more, a loss logged every step) in fresh processes, as a user would, and read their run
records: world size, batch layout, the rows each rank trained on, whether the ranks ended with the same
weights, the steps, the wall time of the whole command and Trainer's train time. The last column is
the largest difference between the two loss curves, step by step: data parallelism over gloo should
reproduce the single process up to float rounding.

    python bench/data_parallel.py             # 1 epoch (20 steps)
    python bench/data_parallel.py --epochs 5

On this project's 2-core machine the two ranks share the cores (one OpenMP thread each), so the
2-process row measures correctness and overhead, not a speed-up: that needs one device per rank.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmkit.console import table  # noqa: E402 (after the path is set)


def run(args: list[str], output: Path) -> tuple[dict, list[float], float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "llmkit", *args, "--output", str(output)], check=True, env=env,
                   capture_output=True)
    wall = time.perf_counter() - start
    record = json.loads((output / "llmkit_run.json").read_text())
    history = json.loads((output / "loss_history.json").read_text())
    return record, [e["loss"] for e in history if "loss" in e], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=1.0)
    options = parser.parse_args()
    common = ["train", "--model", "mlp", "--epochs", str(options.epochs), "--set", "data.limit=1280",
              "--set", "train.logging_steps=1", "--set", "model.options=[dropout=0]"]
    with tempfile.TemporaryDirectory() as tmp:
        one = run([*common, "--batch-size", "64"], Path(tmp) / "one")
        two = run([*common, "--batch-size", "32", "--num-processes", "2"], Path(tmp) / "two")
    rows = []
    for label, (record, losses, wall) in (("1 process, batch 64", one), ("2 processes x 32 (gloo)", two)):
        d, m = record["distributed"], record["metrics"]
        rows.append([label, d["world_size"], f"{d['per_device_batch_size']} / {d['global_batch_size']}",
                     " + ".join(str(r["rows"]) for r in d["ranks"]), d["replicas_in_sync"], m["steps"],
                     f"{m['test_accuracy']:.4f}", f"{m['train_seconds']:.1f}", f"{wall:.1f}",
                     f"{max(abs(a - b) for a, b in zip(one[1], losses)):.2e}"])
    print(table(["run", "world", "batch per device / global", "rows per rank", "ranks in sync", "steps",
                 "test accuracy", "train s", "command s", "max loss diff vs 1 process"], rows))


if __name__ == "__main__":
    main()
