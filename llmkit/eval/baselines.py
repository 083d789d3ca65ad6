"""What guessing scores on choice items, so that a model's accuracy is read against it.

- `majority_baseline`: always answering the letter that is right most often in the group (`majority_letter`).
  No constant answer does better, so a model that picks one letter everywhere scores at most this.
- `random_baseline`: picking an option at random, on average: the mean of 1 / (number of options).

A score is within noise of a baseline when it is less than two standard errors above it: the spread of a
guesser's accuracy over the same n items, 2 * sqrt(p (1 - p) / n) at the baseline's rate p (binomial).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any


def choice_baselines(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Both baselines (0-100) of the group's choice items, and the majority letter; {} without choice items."""
    choice = [r for r in records if r["type"] == "choice"]
    if not choice:
        return {}
    counts = Counter(r["answer"] for r in choice)
    letter = min(counts, key=lambda x: (-counts[x], x))  # the most frequent; ties go to the earlier letter
    return {"majority_letter": letter, "majority_baseline": round(100.0 * counts[letter] / len(choice), 2),
            "random_baseline": round(100.0 * sum(1 / len(r["options"]) for r in choice) / len(choice), 2)}


def noise_margin(baseline: float, items: int) -> float:
    """Two standard errors (0-100 points) of a guesser's accuracy over `items` items at `baseline` %."""
    p = baseline / 100.0
    return 200.0 * math.sqrt(p * (1 - p) / items)


def noise_warning(accuracy: float, summary: dict[str, Any], method: str) -> str | None:
    """One line when `accuracy` (the choice track, scored by `method`) is within noise of a baseline."""
    items = summary["choice_items"]
    baselines = {f"always {summary['majority_letter']}": summary["majority_baseline"],
                 "random choice": summary["random_baseline"]}
    name, best = max(baselines.items(), key=lambda kv: kv[1])
    margin = noise_margin(best, items)
    if accuracy >= best + margin:
        return None
    return (f"choice accuracy {accuracy:.1f}% ({method}) is no better than guessing: {name} scores {best:.1f}% on "
            f"the same {items} items, give or take {margin:.1f} points")
