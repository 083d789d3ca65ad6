"""Register llmkit's model types with transformers' Auto classes without importing transformers.

`import llmkit` must stay cheap (the CLI answers `--help` without torch), yet after it
`AutoModelForImageClassification.from_pretrained(dir)` must know `llmkit-resnet`. So `import llmkit`
installs a tiny import hook: the moment transformers' auto-config module finishes loading (whenever,
and however, the user imports it: AutoConfig, any AutoModel*, AutoTokenizer all go through it),
llmkit's classic families are registered. If it is already loaded, they are registered at once.

One case needs a second chance: importing an llmkit model file directly (`from
llmkit.models.classic import resnet`) imports transformers, which loads the auto-config module while
llmkit's own model files are half-imported. Registering then would be a circular import, so the
registration waits for the auto-model module (every AutoModel* class lives there) instead.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

CONFIG_AUTO = "transformers.models.auto.configuration_auto"
MODEL_AUTO = "transformers.models.auto.modeling_auto"


def _register(retry_on: str | None) -> None:
    from llmkit.models import classic

    try:
        classic.register()
    except ImportError:
        if retry_on is None:
            raise
        _hook(retry_on, retry_on=None)


class _Hook(importlib.abc.MetaPathFinder):
    def __init__(self, target: str, retry_on: str | None):
        self.target, self.retry_on = target, retry_on

    def find_spec(self, name: str, path: Any, target: ModuleType | None = None) -> Any:
        if name != self.target:
            return None
        sys.meta_path.remove(self)  # once only, and not for the lookup just below
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module: ModuleType) -> None:
            exec_module(module)
            _register(self.retry_on)

        spec.loader.exec_module = exec_then_register  # type: ignore[method-assign]
        return spec


def _hook(target: str, retry_on: str | None) -> None:
    if target in sys.modules:
        _register(retry_on)
    elif not any(isinstance(f, _Hook) and f.target == target for f in sys.meta_path):
        sys.meta_path.insert(0, _Hook(target, retry_on))


def install() -> None:
    _hook(CONFIG_AUTO, retry_on=MODEL_AUTO)
