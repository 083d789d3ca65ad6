"""The built-in demo end to end, as a new user runs it: `llmkit finetune --method lora`, twice.

The first run starts from an empty cache (so it pretrains the base model); the second reuses it.
Prints wall time of each, the before/after exact match of the held-out split, and whether
`llmkit chat` answers a held-out question correctly with the trained adapter.

    python bench/demo_gain.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "llmkit", *args], capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(f"llmkit {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start, result


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="llmkit-demo-"))
    env = {**os.environ, "LLMKIT_CACHE": str(root / "cache"), "HF_HUB_OFFLINE": "1"}
    first_s, _ = run(["finetune", "--method", "lora", "--output", str(root / "first")], env)
    cached_s, _ = run(["finetune", "--method", "lora", "--output", str(root / "cached")], env)

    metrics = json.loads((root / "cached" / "llmkit_run.json").read_text())["metrics"]
    predictions = [json.loads(line) for line in (root / "cached" / "predictions.jsonl").open(encoding="utf-8")]
    question = next(p for p in predictions if p["correct"])
    _, chat = run(["chat", str(root / "cached"), "--prompt", question["question"], "--max-new-tokens", "12"], env)
    answer = chat.stdout.strip().splitlines()[-1].strip()

    first = json.loads((root / "first" / "llmkit_run.json").read_text())["metrics"]
    print(f"first run (builds the base model): {first_s:.0f} s; cached run: {cached_s:.0f} s")
    print(f"held-out exact match, first run: before {first['exact_match_before']:.1f}%, "
          f"after {first['exact_match_after']:.1f}%")
    gain = metrics["exact_match_after"] - metrics["exact_match_before"]
    print(f"held-out exact match, cached run: before {metrics['exact_match_before']:.1f}%, "
          f"after {metrics['exact_match_after']:.1f}% (gain {gain:.1f} points), "
          f"{metrics['trainable_parameters']:,} trainable parameters, "
          f"{metrics['tokens_per_second']:.0f} tokens/s")
    print(f"llmkit chat: {question['question']!r} -> {answer!r} (reference {question['reference']!r}): "
          f"{'correct' if answer == question['reference'] else 'WRONG'}")


if __name__ == "__main__":
    main()
