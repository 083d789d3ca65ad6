"""llmkit's evaluate metric modules load by path, offline, and compute what they claim."""

import pytest

from llmkit.eval.metrics import classification_metrics, load_metric


def test_accuracy_and_macro_f1_by_hand():
    # class 0: tp 1 fp 0 fn 0 -> F1 1; class 1: tp 1 fp 1 fn 0 -> 2/3; class 2: tp 2 fp 0 fn 1 -> 0.8
    scores = classification_metrics().compute(predictions=[0, 1, 1, 2, 2], references=[0, 1, 2, 2, 2])
    assert scores["accuracy"] == pytest.approx(0.8)
    assert scores["macro_f1"] == pytest.approx((1 + 2 / 3 + 0.8) / 3)


def test_macro_f1_weights_a_rare_class_like_a_common_one():
    # 9 of class 0 right, the one example of class 1 missed: accuracy 0.9, but class 1 scores 0
    f1 = load_metric("macro_f1").compute(predictions=[0] * 10, references=[0] * 9 + [1])["macro_f1"]
    assert f1 == pytest.approx((2 * 9 / (2 * 9 + 1) + 0) / 2)


def test_metrics_load_from_llmkit_not_the_hub(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert load_metric("accuracy").compute(predictions=[1, 0], references=[1, 1])["accuracy"] == 0.5
    with pytest.raises(ValueError, match="available: accuracy, bleu, exact_match, macro_f1"):
        load_metric("bertscore")
