"""The method table: `--method NAME` -> the Method its file defines (llmkit/tuning/method.py says what one holds).

A new method is one file here that defines `METHOD` (and its section dataclass, when it has
hyperparameters of its own), plus one line below. FinetuneConfig takes its sections from this table.
Heavy libraries (torch, peft) load only when a method builds.
"""

from __future__ import annotations

from llmkit.errors import LlmkitError
from llmkit.tuning.method import Method
from llmkit.tuning.methods import (
    adalora,
    adapter,
    dora,
    freeze,
    full,
    lora,
    prefix,
    prompt,
    ptuning,
    ptuning_v2,
    qlora,
)

METHODS: dict[str, Method] = {m.METHOD.name: m.METHOD for m in [
    full, freeze, lora, dora, qlora, adalora, adapter, prefix, prompt, ptuning, ptuning_v2,
]}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise LlmkitError(f"unknown method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]


def section_class(section: str) -> type:
    """The dataclass of recipe section `section`, from the method that defines it."""
    (owner,) = [m.section_class for m in METHODS.values() if m.section == section and m.section_class is not None]
    return owner
