"""Numeric answers (math): the last number in the prediction equals the reference's number.

"答案是 1,250 元" -> 1250; "x = -3.5" -> -3.5; "3/4" -> 0.75. Equal within a relative 1e-6. A prediction
with no number scores 0. Shipped with llmkit and loaded by path.
"""

import re
import unicodedata

import evaluate

from llmkit.eval.metrics.text_metric import mean_and_scores, text_metric_info

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?")
_DESCRIPTION = "1 when the last number in the prediction equals the reference's number, else 0."
_KWARGS = """
Args:
    predictions (list of str): answers.
    references (list of list of str): reference answers, each holding a number.
Returns:
    numeric_match (float): mean over predictions, in [0, 1].
    scores (list of float): one per prediction.
"""


def last_number(text):
    """The last number written in `text` (commas as thousands separators, a/b as a fraction), or None."""
    matches = _NUMBER.findall(unicodedata.normalize("NFKC", text))
    if not matches:
        return None
    raw = matches[-1].replace(",", "").replace(" ", "")
    if "/" in raw:
        numerator, denominator = raw.split("/")
        return float(numerator) / float(denominator) if float(denominator) else None
    return float(raw)


def same_number(a, b):
    return a is not None and b is not None and abs(a - b) <= 1e-6 * max(1.0, abs(b))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class NumericMatch(evaluate.Metric):
    def _info(self):
        return text_metric_info(_DESCRIPTION, _KWARGS)

    def _compute(self, predictions, references):
        scores = [float(any(same_number(last_number(p), last_number(r)) for r in refs))
                  for p, refs in zip(predictions, references)]
        return mean_and_scores("numeric_match", scores)
