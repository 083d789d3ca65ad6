"""A cache of model outputs (generated answers, log-likelihoods), so a rerun with new scoring settings only re-scores.

Entries are keyed by a fingerprint of the model (its files' names, sizes and modification times, the
adapter's too, and the dtype) and by everything that shapes one output (the prompt text, the continuation
or the generation length). They live in `$LLMKIT_CACHE/eval/<fingerprint>.jsonl`, appended as they are
computed, so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def model_fingerprint(*sources: str | None, extra: str = "") -> str:
    """A short hash of model folders (and adapter folders) as they are on disk; a Hub id hashes as its name."""
    digest = hashlib.sha256(extra.encode())
    for source in sources:
        if source is None:
            continue
        path = Path(source).expanduser()
        digest.update(str(path.resolve() if path.exists() else source).encode())
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and "checkpoints" not in p.parts):
                stat = file.stat()
                digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


class OutputCache:
    """get/put of JSON values by request; `path=None` caches nothing (every request is a miss)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.entries[entry["key"]] = entry["value"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut short by an interrupted run: recompute that output

    @staticmethod
    def key(kind: str, **request: Any) -> str:
        return hashlib.sha256(json.dumps([kind, request], sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def get(self, key: str) -> Any:
        if key in self.entries:
            self.hits += 1
            return self.entries[key]
        self.misses += 1
        return None

    def put_many(self, values: dict[str, Any]) -> None:
        self.entries.update(values)
        if self.path is None or not values:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            for key, value in values.items():
                f.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")

    def fetch(self, keys: list[str], compute: Callable[[list[int]], list[Any]]) -> list[Any]:
        """The value of every key: cached ones as stored, the rest from `compute(indices of the missing keys)`."""
        values = [self.get(key) for key in keys]
        missing = [i for i, value in enumerate(values) if value is None]
        if missing:
            computed = compute(missing)
            for i, value in zip(missing, computed):
                values[i] = value
            self.put_many({keys[i]: value for i, value in zip(missing, computed)})
        return values
