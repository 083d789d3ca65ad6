"""evaluate metric modules shipped with llmkit, loaded by path (evaluate's Hub metrics need a network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

METRICS_DIR = Path(__file__).resolve().parent


def load_metric(name: str) -> Any:
    """`evaluate.load` of llmkit's module `name` (a folder here holding `<name>.py`)."""
    import evaluate

    folder = METRICS_DIR / name
    if not (folder / f"{name}.py").is_file():
        available = sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())
        raise ValueError(f"llmkit ships no metric {name!r}; available: {', '.join(available)}")
    return evaluate.load(str(folder))


def classification_metrics() -> Any:
    """Accuracy and macro F1 combined: one `compute(predictions=, references=)` returns both."""
    import evaluate

    return evaluate.combine([load_metric("accuracy"), load_metric("macro_f1")])
