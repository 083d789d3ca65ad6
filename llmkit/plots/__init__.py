"""Pictures a run saves as PNG: a classifier's confusion matrix and accuracy curve, grids of generated images."""

from __future__ import annotations

from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot drawing to files only: Agg needs no display, which servers and CI lack."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
