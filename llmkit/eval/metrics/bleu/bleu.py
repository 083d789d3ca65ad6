"""BLEU through sacrebleu with its `zh` tokenizer (Chinese split into characters, other text as 13a).

Per answer: sentence BLEU (sacrebleu's default exponential smoothing) over all references, scaled to [0, 1];
`corpus_bleu` is sacrebleu's corpus-level score of all answers together. Shipped with llmkit, loaded by path.
"""

import evaluate

from llmkit.eval.metrics.text_metric import mean_and_scores, text_metric_info

_DESCRIPTION = "sacrebleu BLEU with tokenize='zh', per sentence and for the corpus."
_KWARGS = """
Args:
    predictions (list of str): answers.
    references (list of list of str): reference answers per prediction (any number each).
Returns:
    bleu (float): mean sentence BLEU, in [0, 1].
    corpus_bleu (float): corpus BLEU, in [0, 1].
    scores (list of float): sentence BLEU per prediction.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Bleu(evaluate.Metric):
    def _info(self):
        return text_metric_info(_DESCRIPTION, _KWARGS)

    def _compute(self, predictions, references):
        import sacrebleu

        scores = [sacrebleu.sentence_bleu(p, list(refs), tokenize="zh").score / 100 if refs else 0.0
                  for p, refs in zip(predictions, references)]
        # corpus_bleu wants reference streams: stream k holds every prediction's k-th reference.
        depth = max((len(refs) for refs in references), default=0)
        streams = [[refs[k] if k < len(refs) else "" for refs in references] for k in range(depth)]
        corpus = sacrebleu.corpus_bleu(predictions, streams, tokenize="zh").score / 100 if depth else 0.0
        return {**mean_and_scores("bleu", scores), "corpus_bleu": corpus}
