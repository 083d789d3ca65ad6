"""Several processes from one command: `--num-processes N` re-runs the same llmkit command under
`accelerate launch`, and `--push-to-hub REPO` uploads the finished output.

The CLI builds a job's config first (so bad input fails at once, in one process), then calls
`run_job(run, cfg, num_processes, push_to_hub)` with the job's run function from llmkit.jobs.JOBS.

The launch flags are the ones verified on this stack: `--multi_gpu` starts N ranks on
GPUs, and on a machine without one it starts N CPU ranks that talk over gloo (`--cpu
--num_processes N` would silently run one process). They are spelled out so that a stray
`~/.cache/huggingface/accelerate/default_config.yaml` cannot change what runs.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

from llmkit import console
from llmkit.distributed import is_main_process, world_size
from llmkit.errors import LlmkitError

NUM_PROCESSES_FLAG = "--num-processes"


def accelerate_command(num_processes: int, llmkit_args: list[str]) -> list[str]:
    """The `accelerate launch` command line that runs `llmkit <llmkit_args>` as `num_processes` ranks."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "-m", "llmkit", *llmkit_args]


def without_num_processes(args: list[str]) -> list[str]:
    """`args` without `--num-processes N` / `--num-processes=N`, so the ranks do not re-launch again."""
    kept: list[str] = []
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg == NUM_PROCESSES_FLAG:
            skip_next = True
        elif not arg.startswith(NUM_PROCESSES_FLAG + "="):
            kept.append(arg)
    return kept


def relaunch(num_processes: int) -> int:
    """Run this command (sys.argv) again as `num_processes` ranks; their exit code."""
    _check_devices(num_processes)
    command = accelerate_command(num_processes, without_num_processes(sys.argv[1:]))
    console.info(f"launching {num_processes} processes: accelerate launch {' '.join(command[3:])}")
    return subprocess.run(command, check=False).returncode


def _check_devices(num_processes: int) -> None:
    import torch

    gpus = torch.cuda.device_count()
    if gpus and num_processes > gpus:
        raise LlmkitError(f"--num-processes {num_processes} needs one GPU per process and this machine has {gpus}; "
                          f"pass --num-processes {gpus} or fewer")


def run_job(run: Callable[[Any], dict[str, Any]], cfg: Any, num_processes: int = 1,
            push_to_hub: str | None = None) -> dict[str, Any] | None:
    """Run a training workflow here, or on `num_processes` ranks; then push its output from rank 0.

    Returns the workflow's result, or None when the work ran in re-launched processes (they pushed).
    A failed re-launch exits with the ranks' exit code: they have already printed why.
    """
    if num_processes > 1 and world_size() == 1:
        code = relaunch(num_processes)
        if code:
            sys.exit(code)
        return None
    target = None
    if push_to_hub:
        from llmkit.hub.push import HubTarget

        target = HubTarget.from_environment(push_to_hub)  # a missing token fails before training, not after
    result = run(cfg)
    if target is not None and is_main_process():
        target.push(result["output"])
    return result
