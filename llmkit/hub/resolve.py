"""A `--model`, `--adapter` or `--base` that is not a local folder is a Hub id: fetch it (or find it in the
local cache when offline) in this one place, so every loader gets a folder and the same errors.

`HF_HUB_OFFLINE=1` makes huggingface_hub answer from the cache only; `HF_ENDPOINT` (read here, at call
time) points at a mirror or a private Hub.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from llmkit.errors import LlmkitError, first_line

DEFAULT_ENDPOINT = "https://huggingface.co"
# Weights in formats llmkit never loads, and training state: not worth downloading.
_NOT_DOWNLOADED = ["*.h5", "*.msgpack", "*.ot", "*.onnx", "*.tflite", "*.gguf", "optimizer.pt", "checkpoint-*/**"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def looks_like_hub_id(name: str) -> bool:
    """owner/name, as the Hub spells repo ids (and not an existing local path)."""
    return bool(_HUB_ID.match(name)) and not Path(name).expanduser().exists() and ".." not in name


def hub_endpoint(endpoint: str | None = None) -> str:
    """--endpoint, else HF_ENDPOINT as it is now (huggingface_hub reads it once, at import), else the Hub."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def resolve_source(name: str) -> str:
    """A local folder for `name`: a GGUF model's converted copy (llmkit.models.gguf), the path itself when it
    exists, else the Hub snapshot of the id `name`. (llmkit's built-in base is known by name only to the
    workflows, which build it: llmkit/workflows/builtin_base.py.)"""
    from llmkit.models.gguf import converted_folder

    converted = converted_folder(name)
    if converted is not None:
        return converted
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    if not looks_like_hub_id(name):
        raise LlmkitError(f"{name} does not exist (and is not a Hub id like owner/name)")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return snapshot_download(name, endpoint=hub_endpoint(), ignore_patterns=_NOT_DOWNLOADED)
    except LocalEntryNotFoundError as e:
        if constants.HF_HUB_OFFLINE:
            raise LlmkitError(f"{name} is neither a local folder nor in the local Hub cache (HF_HUB_OFFLINE is "
                              f"set): check the path, or download the repo once online") from e
        raise LlmkitError(f"cannot fetch {name} from {hub_endpoint()} and it is not in the local cache: "
                          f"{first_line(e)}") from e
    except GatedRepoError as e:
        raise LlmkitError(f"{name} is gated: accept its terms on the Hub and log in (HF_TOKEN or "
                          f"`hf auth login`)") from e
    except RepositoryNotFoundError as e:
        raise LlmkitError(f"{name} is neither a local folder nor a repo on {hub_endpoint()} (check the path; "
                          f"a private repo needs HF_TOKEN)") from e
    except OSError as e:  # HfHubHTTPError and connection errors
        raise LlmkitError(f"cannot fetch {name} from {hub_endpoint()}: {first_line(e)}") from e
