"""Find recipes by name or path, in the source tree or inside the installed wheel.

A recipe is a YAML file in a job's recipe folder (recipes/<folder>/, named in llmkit.jobs.JOBS) whose keys are
those of the job's config dataclass. Its first comment line is its one-line description, shown by
`llmkit recipes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llmkit.errors import LlmkitError
from llmkit.jobs import JOBS, job_of_recipe_folder

# Recipe folders of earlier releases (old -> new): a name in an old one is refused with its new spelling.
RENAMED_FOLDERS = {"classic": "train"}


@dataclass(frozen=True)
class Recipe:
    job: str | None  # the job it configures (a name in llmkit.jobs.JOBS); None: a file outside their folders
    name: str  # file name without .yaml
    path: Path

    @property
    def key(self) -> str:
        """`folder/name`, the spelling that names it unambiguously."""
        return f"{self.path.parent.name}/{self.name}"

    @property
    def description(self) -> str:
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
        return ""

    def load(self) -> dict[str, Any]:
        return load_yaml(self.path)


def recipes_root() -> Path:
    """The wheel carries recipes as llmkit/recipes; an editable install reads the repository's recipes/."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "recipes", package_dir.parent / "recipes"):
        if candidate.is_dir():
            return candidate
    raise LlmkitError(f"llmkit's recipes folder is missing next to {package_dir}; reinstall llmkit")


def all_recipes() -> list[Recipe]:
    """The shipped recipes, in the order of the job table."""
    root = recipes_root()
    return [Recipe(job=job.name, name=p.stem, path=p)
            for job in JOBS.values() if job.recipes for p in sorted((root / job.recipes).glob("*.yaml"))]


def resolve(name_or_path: str, job: str | None = None) -> Recipe:
    """`llama-lora`, `finetune/llama-lora` or a path to a YAML file; `job` narrows the names to its recipes."""
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") and path.is_file():
        by_folder = job_of_recipe_folder(path.parent.name)
        return Recipe(job=job or (by_folder.name if by_folder else None), name=path.stem, path=path)
    wanted = name_or_path.removesuffix(".yaml")
    folder, _, rest = wanted.partition("/")
    if rest and folder in RENAMED_FOLDERS:
        raise LlmkitError(f"recipe {name_or_path!r} is now '{RENAMED_FOLDERS[folder]}/{rest}'")
    matches = [r for r in all_recipes() if wanted in (r.name, r.key) and (job is None or r.job == job)]
    if len(matches) == 1:
        return matches[0]
    if path.suffix in (".yaml", ".yml"):
        raise LlmkitError(f"recipe file {name_or_path} does not exist")
    candidates = [r.key for r in all_recipes() if job is None or r.job == job]
    if matches:
        raise LlmkitError(f"recipe name {name_or_path!r} is ambiguous; use one of "
                          f"{', '.join(r.key for r in matches)}")
    raise LlmkitError(f"no recipe named {name_or_path!r}{f' for {job}' if job else ''}; "
                      f"available: {', '.join(candidates)} (or pass a path to a .yaml file)")


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise LlmkitError(f"recipe {path} is not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    except OSError as e:
        raise LlmkitError(f"cannot read recipe {path}: {e.strerror}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LlmkitError(f"recipe {path} must be a mapping of keys, not a {type(data).__name__}")
    return data
