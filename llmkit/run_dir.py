"""Output folders: never clobbered without --overwrite; each holds its recipe and a run record.

In a multi-process run only the main process creates the folder and writes the record; the other
ranks check the folder (read only) and otherwise leave it alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import tempfile
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from llmkit import __version__
from llmkit.config import to_dict, to_yaml
from llmkit.console import is_main_process
from llmkit.errors import LlmkitError

RUN_RECORD = "llmkit_run.json"
RESOLVED_RECIPE = "llmkit_recipe.yaml"
_PACKAGES = ("torch", "transformers", "peft", "accelerate", "datasets", "tokenizers", "safetensors")


def default_output(job: str, detail: str) -> Path:
    return Path("runs") / f"{job}-{detail}-{datetime.now():%Y%m%d-%H%M%S}"


def check_output_dir(path: Path, overwrite: bool, inputs: Any = None) -> None:
    """Fail before any work if `path` holds files and --overwrite was not given (checked by the main process:
    the others may look after it has started writing)."""
    if not is_main_process():
        return
    if path.exists() and not path.is_dir():
        raise LlmkitError(f"output {path} is a file, not a folder; choose another --output")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise LlmkitError(f"output folder {path} is not empty; pass --overwrite to replace it "
                          f"or choose another --output")
    if overwrite and path.is_dir():
        _refuse_deleting_inputs(path, inputs)
    check_writable(path)
    claim_output_dir(path)


_CLAIMS: dict[Path, Any] = {}  # output folders this process holds, with their open lock files


def claim_output_dir(path: Path) -> None:
    """Hold an exclusive lock on `path` for the rest of this process, so that a second run into the same
    folder stops at once instead of mixing its files with this one's. The lock is a file beside the folder
    (the folder itself may be replaced by --overwrite); the system releases it when the process ends, even
    when it is killed."""
    import fcntl

    if not is_main_process():  # the run's main process holds it for all of its ranks
        return
    key = path.resolve()
    if key in _CLAIMS:
        return
    key.parent.mkdir(parents=True, exist_ok=True)
    lock = (key.parent / f".{key.name}.llmkit-lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise LlmkitError(f"{path} is in use by another llmkit run (process {holder}); wait for it to end or "
                          f"choose another --output") from None
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    _CLAIMS[key] = lock


def release_output_dir(path: Path) -> None:
    """Let other runs into `path` again (a run that ended; the process may go on, as a library user's does)."""
    lock = _CLAIMS.pop(path.resolve(), None)
    if lock is not None:
        lock.close()


def _refuse_deleting_inputs(path: Path, inputs: Any) -> None:
    """--overwrite deletes the folder: refuse when it holds what the run reads (its data, its model, the
    working directory). `inputs` is the run's config (every string in it that names an existing path counts,
    but the output itself) or a list of paths."""
    values = [v for k, v in _flat_items(to_dict(inputs)) if k != "output"] if dataclasses.is_dataclass(inputs) \
        else list(inputs or [])
    out = path.resolve()
    for value in [*values, Path.cwd()]:
        if not isinstance(value, (str, Path)) or not str(value):
            continue
        candidate = Path(value).expanduser()
        if candidate.exists() and (candidate.resolve() == out or out in candidate.resolve().parents):
            raise LlmkitError(f"--overwrite would delete {candidate}, which this run reads, inside {path}; "
                              f"move it out or choose another --output")


def _flat_items(values: Any, key: str = "") -> list[tuple[str, Any]]:
    if isinstance(values, dict):
        return [item for k, v in values.items() for item in _flat_items(v, k)]
    if isinstance(values, list):
        return [item for v in values for item in _flat_items(v, key)]
    return [(key, values)]


def check_writable(path: Path) -> None:
    """Fail before any work if `path` (or the folder that would hold it) cannot be written: a read-only disk
    or a folder without write permission would otherwise fail only when the results are saved."""
    folder = path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        tempfile.TemporaryFile(dir=folder).close()  # deleted as it closes
    except OSError as e:
        raise LlmkitError(f"cannot write to {path} ({e.strerror}); choose another --output") from None


def prepare_output_dir(path: Path, overwrite: bool, inputs: Any = None) -> Path:
    if not is_main_process():
        return path
    check_output_dir(path, overwrite, inputs)
    if path.is_dir() and overwrite:
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_versions() -> dict[str, str]:
    versions = {"llmkit": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


_OPEN_RECORDS: set[RunRecord] = set()  # records of runs in this process that have not ended yet


def close_open_records(status: str, **fields: Any) -> None:
    """Mark every run of this process that is still "running" as ended with `status` (the CLI calls this when a
    command stops early: interrupted, or failed with an error)."""
    for record in list(_OPEN_RECORDS):
        record.update(status=status, **fields)


class RunRecord:
    """Collects what a run did and writes it as llmkit_run.json (rewritten as phases finish; main process only)."""

    def __init__(self, output_dir: Path, job: str, config: Any):
        self.path = output_dir / RUN_RECORD
        self.data: dict[str, Any] = {
            "job": job,
            "started": datetime.now().isoformat(timespec="seconds"),
            "config": to_dict(config),
            "versions": package_versions(),
            "status": "running",  # -> finished, interrupted or failed; a killed run stays "running"
            "pid": os.getpid(),
            "metrics": {},
            "timings_s": {},
        }
        self._writes = is_main_process()
        if self._writes:
            (output_dir / RESOLVED_RECIPE).write_text(to_yaml(config), encoding="utf-8")
        self._phase_start: dict[str, float] = {}
        _OPEN_RECORDS.add(self)

    def start(self, phase: str) -> None:
        self._phase_start[phase] = time.perf_counter()

    def stop(self, phase: str) -> float:
        elapsed = time.perf_counter() - self._phase_start.pop(phase)
        self.data["timings_s"][phase] = round(elapsed, 3)
        return elapsed

    def update(self, **fields: Any) -> None:
        if fields.get("status", "running") != "running":
            _OPEN_RECORDS.discard(self)
            release_output_dir(self.path.parent)
        for key, value in fields.items():
            if isinstance(value, dict) and isinstance(self.data.get(key), dict):
                self.data[key].update(value)
            else:
                self.data[key] = value
        self.save()

    def save(self) -> None:
        if not self._writes:
            return
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        tmp.replace(self.path)


def unfinished_reason(folder: Path) -> str | None:
    """Why the run that wrote `folder` did not finish (None: it finished, or no llmkit run wrote it)."""
    record = folder / RUN_RECORD
    if not record.is_file():
        return None
    data = json.loads(record.read_text(encoding="utf-8"))
    status = data.get("status", "finished")  # records written before runs had a status were finished runs
    if status == "finished":
        return None
    if status == "interrupted":
        return f"was interrupted at step {data.get('step', '?')}"
    if status == "failed":
        return f"failed: {data.get('error', 'unknown error')}"
    if _process_alive(data.get("pid")):
        return f"is still running (process {data['pid']})"
    return "did not finish (its process was killed)"


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)  # signal 0 only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
