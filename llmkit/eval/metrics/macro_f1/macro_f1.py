"""Macro F1: the unweighted mean over classes of each class's F1 (harmonic mean of precision and recall).

Every class counts the same however rare it is. A class that appears in neither the predictions nor
the references is left out of the mean; a class with no true positives scores 0: scikit-learn's
`f1_score(average="macro", zero_division=0)`. Shipped with llmkit and loaded by path, like accuracy.
"""

import datasets
import evaluate
from sklearn.metrics import f1_score

_DESCRIPTION = "Macro-averaged F1 over the classes present in predictions or references."
_KWARGS = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): true labels.
Returns:
    macro_f1 (float): in [0, 1].
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class MacroF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}))

    def _compute(self, predictions, references):
        if len(references) == 0:
            raise ValueError("macro F1 of an empty set is undefined")
        return {"macro_f1": float(f1_score(references, predictions, average="macro", zero_division=0))}
