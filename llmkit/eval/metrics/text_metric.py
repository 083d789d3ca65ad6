"""What llmkit's metrics of free answers share: the inputs (an answer and its references) and the result (the
mean and one score per answer, so a report can show each item's score)."""

from __future__ import annotations

from typing import Any


def text_metric_info(description: str, inputs_description: str) -> Any:
    """`evaluate.MetricInfo` for predictions (str) against references (a list of str per prediction)."""
    import datasets
    import evaluate

    return evaluate.MetricInfo(
        description=description, citation="", inputs_description=inputs_description,
        features=datasets.Features({"predictions": datasets.Value("string"),
                                    "references": datasets.Sequence(datasets.Value("string"))}))


def mean_and_scores(name: str, scores: list[float]) -> dict[str, Any]:
    return {name: sum(scores) / len(scores) if scores else 0.0, "scores": scores}
