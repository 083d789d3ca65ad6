"""Exact match of free answers: equal to a reference after normalising width (全角/半角), case, outer spaces
and a final full stop. Shipped with llmkit and loaded by path, like the other modules here."""

import datasets
import evaluate

from llmkit.eval.exact_match import normalize_answer

_DESCRIPTION = "1 when the prediction equals one of the references after normalisation, else 0."
_KWARGS = """
Args:
    predictions (list of str): answers.
    references (list of list of str): acceptable answers per prediction.
Returns:
    exact_match (float): mean over predictions, in [0, 1].
    scores (list of float): one per prediction.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Sequence(datasets.Value("string"))}))

    def _compute(self, predictions, references):
        scores = [float(any(normalize_answer(p) == normalize_answer(r) for r in refs))
                  for p, refs in zip(predictions, references)]
        return {"exact_match": sum(scores) / len(scores) if scores else 0.0, "scores": scores}
