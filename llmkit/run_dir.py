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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from llmkit import __version__
from llmkit.config import to_dict, to_yaml
from llmkit.distributed import is_main_process
from llmkit.errors import LlmkitError
from llmkit.jobs import get_job

RUN_RECORD = "llmkit_run.json"
RESOLVED_RECIPE = "llmkit_recipe.yaml"
# Folders that runs fill while they train, before their record lists the files (a killed run's may hold more
# than its record says): --overwrite counts everything in them as llmkit's.
RUN_FOLDERS = ("checkpoints", "samples", "tensorboard", ".saving")
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
    if overwrite and path.is_dir() and any(path.iterdir()):
        _refuse_deleting_inputs(path, inputs)
        _files_of_the_run(path)  # refuses a folder holding files no llmkit run wrote
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


def _files_of_the_run(path: Path) -> list[Path]:
    """Every file in `path`, once it is sure that the llmkit run whose record is there wrote them all; else one
    line naming what is not the run's."""
    record = path / RUN_RECORD
    if not record.is_file():
        raise LlmkitError(f"--overwrite: {path} holds no {RUN_RECORD}, so no llmkit run wrote it; "
                          f"empty it yourself or choose another --output")
    listed = {RUN_RECORD, RUN_RECORD + ".tmp", *json.loads(record.read_text(encoding="utf-8")).get("written_files", [])}
    found = written_files(path)
    foreign = [f for f in found if f not in listed and f.split("/")[0] not in RUN_FOLDERS]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise LlmkitError(f"--overwrite: {path / foreign[0]}{more} was not written by the llmkit run there; "
                          f"move it out or choose another --output")
    return [path / f for f in found]


def written_files(folder: Path) -> list[str]:
    """The files under `folder`, as sorted relative POSIX paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def _remove_run(path: Path) -> None:
    """Delete what the earlier run in `path` wrote (all that is there, as _files_of_the_run checked), then
    its emptied folders."""
    for file in _files_of_the_run(path):
        file.unlink()
    for folder in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        folder.rmdir()


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


def check_free_space(path: Path, needed_bytes: int, what: str) -> None:
    """Fail before training, not after it, when the disk holding `path` cannot take what the run will save."""
    folder = path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise LlmkitError(f"{path} has {_size(free)} free, and {what} need about {_size(needed_bytes)}; "
                          f"free space or choose another --output")


def checkpoint_bytes(trained: int, steps: int, save_steps: int, keep: int) -> int:
    """About what a run's checkpoints of `trained` bytes of weights take on disk at once: each holds the
    weights and AdamW's two moments of each; at least one is written when checkpoints are on."""
    if not save_steps:
        return 0
    written = max(1, steps // save_steps)
    return (min(written, keep) if keep else written) * 3 * trained


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def prepare_output_dir(path: Path, overwrite: bool, inputs: Any = None) -> Path:
    if not is_main_process():
        return path
    check_output_dir(path, overwrite, inputs)
    if path.is_dir() and overwrite:
        _remove_run(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def saving_into(output: Path) -> Iterator[Path]:
    """A staging folder to save a run's model into; its files move into `output` only when the block ends
    without an error. So a save that fails part-way (a full disk, Ctrl-C, a kill) never leaves weights or
    a config in `output` that would load as a finished model: a failed save leaves nothing, a killed one
    only `.saving/`, which the next --overwrite or resume removes. Each move is a rename on one filesystem.
    Main process only."""
    staging = output / ".saving"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # frees what a full disk filled
        raise
    for item in sorted(staging.iterdir()):
        target = output / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        item.replace(target)
    staging.rmdir()


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
            "job": get_job(job).name,  # a name of the job table, which the model card turns into its command
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
        self.save()  # the files the phase wrote are listed from now on
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
        if not self.path.parent.is_dir():  # the folder was moved or deleted since (a resumed build renamed it)
            _OPEN_RECORDS.discard(self)
            return
        # What --overwrite may delete later: every file in the folder is this run's (the folder was empty, or
        # held only an earlier run's files, which --overwrite removed).
        self.data["written_files"] = sorted({*written_files(self.path.parent), RUN_RECORD} - {RUN_RECORD + ".tmp"})
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
