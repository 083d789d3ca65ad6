"""Register llmkit's model types with transformers' Auto classes without importing transformers.

`import llmkit` must stay cheap (the CLI answers `--help` without torch), yet after it
`AutoModelForImageClassification.from_pretrained(dir)` must know `llmkit-resnet`. So `import llmkit`
installs a tiny import hook: the moment transformers' auto-model module finishes loading (whenever,
and however, the user imports it: every AutoModel* class lives there), llmkit's classic families and DCGAN are
registered. If it is already loaded, they are registered at once.

Why not the auto-config module, so that AutoConfig alone would know llmkit's types too: transformers
loads it half-way through importing its own modeling_utils, and registering then (which imports
llmkit's model files, which import PreTrainedModel) fails as a circular import. `AutoConfig` knows
llmkit's types once any AutoModel* class is imported, or after `llmkit.models.classic.register()`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

TARGET = "transformers.models.auto.modeling_auto"


def _register() -> None:
    from llmkit.models import dcgan
    from llmkit.models.classic import register

    register()
    dcgan.register()


class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: ModuleType | None = None) -> Any:
        if name != TARGET:
            return None
        sys.meta_path.remove(self)  # once only, and not for the lookup just below
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module: ModuleType) -> None:
            exec_module(module)
            _register()

        spec.loader.exec_module = exec_then_register  # type: ignore[method-assign]
        return spec


def install() -> None:
    if TARGET in sys.modules:
        _register()
    elif not any(isinstance(finder, _Hook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Hook())
