"""`llmkit push DIR --repo user/name` and `--push-to-hub`: upload an output folder as one Hub commit.

One commit holds every file and the generated model card, so a failure anywhere leaves nothing of this
push on the Hub (at most the empty repo it created) and is reported as a failure. The token comes from
HF_TOKEN or the stored login (`hf auth login`) and the endpoint from --endpoint or HF_ENDPOINT; both are
given to `HfApi` explicitly because huggingface_hub reads HF_ENDPOINT only once, at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmkit import console
from llmkit.errors import LlmkitError, first_line
from llmkit.hub.files import select_files
from llmkit.hub.model_card import model_card
from llmkit.hub.resolve import hub_endpoint, looks_like_hub_id

CARD = "README.md"
PEFT_TEMPLATE_MARK = "<!-- Provide a quick summary of what the model is/does. -->"
DEFAULT_LICENSE = "apache-2.0"


@dataclass
class PushResult:
    url: str  # the commit's URL
    files: list[str]  # what the commit holds, README.md included
    skipped: dict[str, str]  # what stayed behind, and why


@dataclass
class HubTarget:
    """Where a push goes: checked (repo id, token) before any work, so a long run cannot end in 'no token'."""

    repo: str
    token: str
    endpoint: str
    private: bool = False
    revision: str | None = None

    @classmethod
    def from_environment(cls, repo: str, *, endpoint: str | None = None, private: bool = False,
                         revision: str | None = None) -> HubTarget:
        if not looks_like_hub_id(repo):
            raise LlmkitError(f"--repo {repo!r} is not a Hub repo id; use owner/name (e.g. your-name/my-lora)")
        from huggingface_hub import get_token

        token = get_token()
        if not token:
            raise LlmkitError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (the token needs write "
                              "access)")
        return cls(repo=repo, token=token, endpoint=hub_endpoint(endpoint), private=private, revision=revision)

    def push(self, folder: str | Path, *, include_checkpoints: bool = False,
             license: str = DEFAULT_LICENSE) -> PushResult:
        """Upload `folder` (minus training state and anything secret-looking) with a model card, in one commit."""
        from huggingface_hub import CommitOperationAdd, HfApi

        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise LlmkitError(f"{folder} is not a folder; pass the output folder of an llmkit run")
        selection = select_files(folder, include_checkpoints)
        if not selection.files:
            raise LlmkitError(f"{folder} holds nothing to upload"
                              + (f" (skipped: {', '.join(selection.skipped)})" if selection.skipped else ""))
        keep_card = Path(CARD) in selection.files and not _is_template(folder / CARD)
        operations = [CommitOperationAdd(path_in_repo=rel.as_posix(), path_or_fileobj=str(folder / rel))
                      for rel in selection.files if rel != Path(CARD) or keep_card]
        if not keep_card:  # a card the user wrote wins over the generated one
            card = model_card(folder, self.repo, license).encode("utf-8")
            operations.append(CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=card))
        api = HfApi(endpoint=self.endpoint, token=self.token)
        created = False
        try:
            api.create_repo(self.repo, private=self.private, exist_ok=True)
            created = True
            if self.revision:
                api.create_branch(self.repo, branch=self.revision, exist_ok=True)
            commit = api.create_commit(self.repo, operations=operations, revision=self.revision,
                                       commit_message=f"Upload {folder.name} with llmkit push")
        except ValueError as e:  # huggingface_hub's check of the card's metadata
            raise LlmkitError(f"the Hub refused the model card of {folder}: {first_line(e)}") from e
        except (OSError, *_http_errors()) as e:  # the Hub's HTTP errors, and an unreachable endpoint
            raise LlmkitError(self._failure(e, created)) from e
        files = [op.path_in_repo for op in operations]
        for path, why in selection.skipped.items():
            console.info(f"not uploaded: {path} ({why})")
        console.info(f"pushed {len(files)} files to {self.endpoint}/{self.repo}"
                     f"{f' (revision {self.revision})' if self.revision else ''}: {commit.commit_url}")
        return PushResult(url=commit.commit_url, files=files, skipped=selection.skipped)

    def _failure(self, error: Exception, created: bool) -> str:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status in (401, 403):
            return (f"the Hub at {self.endpoint} refused the token for {self.repo} ({status}): check HF_TOKEN or "
                    f"`hf auth login`, and that the token may write to {self.repo.split('/')[0]}")
        left = "the repo exists but holds nothing from this push" if created else "nothing was created"
        return f"push to {self.repo} at {self.endpoint} failed, {left}: {first_line(error)}"


def _is_template(card: Path) -> bool:
    # peft's save_pretrained writes an empty model-card template as README.md: not a card anyone wrote.
    return PEFT_TEMPLATE_MARK in card.read_text(encoding="utf-8", errors="replace")


def _http_errors() -> tuple[type[Exception], ...]:
    # huggingface_hub 2.x talks through httpx2, whose connection errors are not OSError.
    try:
        import httpx2
    except ImportError:
        return ()
    return (httpx2.HTTPError,)
