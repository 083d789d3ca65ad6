"""Pictures a run saves as PNG: loss curves, a classifier's confusion matrix and accuracy curve, image grids."""

from __future__ import annotations

from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot drawing to files only: Agg needs no display, which servers and CI lack."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
