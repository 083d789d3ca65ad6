"""Which files of an output folder go to the Hub: the model, never training state or secrets.

Optimizer, scheduler and RNG states are left out always; Trainer checkpoints unless asked for; and
anything that looks like a credential, by its name (.env, keys, token files) or by its content (a
Hugging Face token, a private key, a cloud access key), with the reason, so `llmkit push` can say what
it skipped.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

# Training state: large, useless for inference, and the optimizer's moments can leak the data.
TRAINING_STATE = ("optimizer.pt", "optimizer.bin", "optimizer*.safetensors", "scheduler.pt", "rng_state*.pth",
                  "scaler.pt", "global_step*")
CHECKPOINT_DIRS = ("checkpoints", "checkpoint-*")
# Left-overs of interrupted writes, caches and version control.
NOISE = ("*.partial", "*.tmp", "*.lock", ".git", "__pycache__", ".cache", ".ipynb_checkpoints")
SECRET_NAMES = (".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", "id_ecdsa*",
                ".netrc", ".git-credentials", ".pypirc", "token", "stored_tokens", "*_token", "*.token",
                "credentials*", "secrets.*", "*secret*")
SECRET_CONTENT = re.compile(
    rb"hf_[A-Za-z0-9]{30,}"  # Hugging Face access token
    rb"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    rb"|AKIA[0-9A-Z]{16}"  # AWS access key id
    rb"|sk-[A-Za-z0-9_-]{32,}"  # OpenAI-style API key
)
CONTENT_SCAN_BYTES = 4 * 2**20  # weights are large and never text; every smaller file is read


@dataclass
class Selection:
    files: list[Path] = field(default_factory=list)  # relative to the folder, in upload order
    skipped: dict[str, str] = field(default_factory=dict)  # relative path -> why it stays behind


def select_files(folder: Path, include_checkpoints: bool = False) -> Selection:
    """The files under `folder` to upload, and those skipped with the reason."""
    selection = Selection()
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(folder)
        reason = _skip_reason(rel, path, include_checkpoints)
        if reason:
            selection.skipped[rel.as_posix()] = reason
        else:
            selection.files.append(rel)
    return selection


def _skip_reason(rel: Path, path: Path, include_checkpoints: bool) -> str | None:
    parts = rel.parts
    if any(_matches(p, NOISE) for p in parts):
        return "temporary or cache file"
    if any(_matches(p, SECRET_NAMES) for p in parts):
        return "looks like a secret (its name)"
    if _matches(rel.name, TRAINING_STATE) or any(_matches(p, TRAINING_STATE) for p in parts[:-1]):
        return "optimizer/scheduler state"
    if not include_checkpoints and any(_matches(p, CHECKPOINT_DIRS) for p in parts[:-1]):
        return "training checkpoint (pass --include-checkpoints to upload)"
    if path.stat().st_size <= CONTENT_SCAN_BYTES and SECRET_CONTENT.search(path.read_bytes()):
        return "looks like a secret (its content)"
    return None


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name.lower(), p) for p in patterns)
