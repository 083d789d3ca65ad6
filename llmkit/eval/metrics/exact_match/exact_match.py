"""Exact match of free answers: equal to a reference after normalising width (全角/半角), case, outer spaces
and a final full stop. Shipped with llmkit and loaded by path, like the other modules here."""

import evaluate

from llmkit.eval.answer_scoring import normalize_answer
from llmkit.eval.metrics.text_metric import mean_and_scores, text_metric_info

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
        return text_metric_info(_DESCRIPTION, _KWARGS)

    def _compute(self, predictions, references):
        scores = [float(any(normalize_answer(p) == normalize_answer(r) for r in refs))
                  for p, refs in zip(predictions, references)]
        return mean_and_scores("exact_match", scores)
