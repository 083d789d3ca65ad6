"""Run one llmkit command in a fresh process, as a user would, and time it: what the benches share."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def run_llmkit(command: list[str], output: Path, env: dict[str, str]) -> dict:
    """`llmkit COMMAND --output OUTPUT`; its run record plus the process's wall and CPU (user + system) seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "llmkit", *command, "--output", str(output)],
                            capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        sys.exit(f"llmkit {' '.join(command)} failed:\n{result.stderr[-3000:]}")
    record = json.loads((output / "llmkit_run.json").read_text())
    record["wall_s"] = wall
    record["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return record
