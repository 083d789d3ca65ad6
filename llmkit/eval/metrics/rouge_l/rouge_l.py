"""ROUGE-L F1 through `rouge-score`, on words from jieba, so Chinese (written without spaces) is compared by
word rather than as one long token. English words come out of jieba whole; case is folded. The best score
over the references counts. Shipped with llmkit and loaded by path.
"""

import evaluate

from llmkit.eval.metrics.text_metric import mean_and_scores, text_metric_info

_DESCRIPTION = "ROUGE-L F-measure (longest common subsequence of words) on jieba-segmented text."
_KWARGS = """
Args:
    predictions (list of str): answers.
    references (list of list of str): reference answers per prediction.
Returns:
    rouge_l (float): mean over predictions, in [0, 1].
    scores (list of float): one per prediction.
"""


class JiebaTokenizer:
    """rouge-score's tokenizer interface (`tokenize(text) -> list of str`) over jieba's segmentation."""

    def tokenize(self, text):
        import jieba

        return [w.lower() for w in jieba.lcut(text) if w.strip() and any(ch.isalnum() for ch in w)]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class RougeL(evaluate.Metric):
    def _info(self):
        return text_metric_info(_DESCRIPTION, _KWARGS)

    def _compute(self, predictions, references):
        import logging

        import jieba
        from rouge_score import rouge_scorer

        jieba.setLogLevel(logging.WARNING)  # jieba announces loading its dictionary on every first call
        scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=JiebaTokenizer())
        scores = [max((scorer.score(r, p)["rougeL"].fmeasure for r in refs), default=0.0)
                  for p, refs in zip(predictions, references)]
        return mean_and_scores("rouge_l", scores)
