"""The reference metrics of open answers: evaluate modules shipped in llmkit and loaded by path, offline."""

import pytest

from llmkit.eval.metrics import load_metric


def compute(name, predictions, references):
    return load_metric(name).compute(predictions=predictions, references=references)


def test_exact_match_normalises_width_case_and_full_stop():
    result = compute("exact_match", ["北京。", "ＡＢＣ", "Paris", "tokyo"], [["北京"], ["abc"], ["paris "], ["Kyoto"]])
    assert result["scores"] == [1.0, 1.0, 1.0, 0.0] and result["exact_match"] == 0.75


def test_numeric_match_takes_the_last_number():
    answers = ["答案是 1,250 元", "先算 3+4=7，再乘 2 得 14", "0.75", "3/4", "没有数字", "x=-2"]
    result = compute("numeric_match", answers, [["1250"], ["14"], ["3/4"], ["0.75"], ["5"], ["-2"]])
    assert result["scores"] == [1.0, 1.0, 1.0, 1.0, 0.0, 1.0]


def test_rouge_l_segments_chinese_into_words():
    result = compute("rouge_l", ["北京是中国的首都", "今天下雨了", "The cat sat on the mat"],
                     [["中国的首都是北京", "首都北京"], ["北京是中国的首都"], ["the cat sat on the mat"]])
    # jieba: 北京/是/中国/的/首都 vs 中国/的/首都/是/北京: LCS 3 of 5 words each way.
    assert result["scores"][0] == pytest.approx(0.6)
    assert result["scores"][1] == 0.0 and result["scores"][2] == 1.0


def test_bleu_uses_the_zh_tokenizer():
    perfect = compute("bleu", ["国泰民安"], [["国泰民安"]])
    assert perfect["bleu"] == pytest.approx(1.0) and perfect["corpus_bleu"] == pytest.approx(1.0)
    partial = compute("bleu", ["国泰民乐", "天下太平"], [["国泰民安"], ["春满人间"]])
    assert 0 < partial["scores"][0] < 1 and partial["scores"][1] < partial["scores"][0]
