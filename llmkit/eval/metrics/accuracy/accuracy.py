"""Accuracy: the fraction of predictions equal to the reference label.

An `evaluate` metric module shipped with llmkit and loaded by path (`evaluate.load(<this folder>)`),
because evaluate's own metrics live on the Hub and do not load offline.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score

_DESCRIPTION = "Accuracy = correct predictions / all predictions."
_KWARGS = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): true labels.
Returns:
    accuracy (float): in [0, 1].
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}))

    def _compute(self, predictions, references):
        if len(references) == 0:
            raise ValueError("accuracy of an empty set is undefined")
        return {"accuracy": float(accuracy_score(references, predictions))}
