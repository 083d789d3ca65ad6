"""SuperCLUE-style letter extraction: explicit cues, Chinese phrasing, lowercase, and no letter at all."""

import pytest

from llmkit.eval.extraction import extract_letter

OPTIONS = ["上海", "北京", "广州", "深圳"]


@pytest.mark.parametrize("answer, letter", [
    ("答案是B", "B"),
    ("选 C。", "C"),
    ("b", "B"),
    ("答案：(d)", "D"),
    ("我认为答案应该是 A，因为", "A"),
    ("正确答案为：选项D", "D"),
    ("选项A是正确的", "A"),
    ("C 选项正确", "C"),
    ("Ｃ", "C"),  # full-width
    ("B. 北京", "B"),
    ("(A)", "A"),
    ("The answer is (c).", "C"),
    ("I think the answer is b", "B"),
    ("Answer: C\n\nQuestion 2", "C"),
    ("北京是中国的首都", "B"),  # quotes exactly one option's text
])
def test_letters_found(answer, letter):
    assert extract_letter(answer, "ABCD", OPTIONS) == letter


@pytest.mark.parametrize("answer", [
    "", "不知道", "我不确定", "A和B都有可能", "the capital is a big city", "答案是E", "上海和北京都很大",
])
def test_no_letter_means_none(answer):
    assert extract_letter(answer, "ABCD", OPTIONS) is None


def test_letters_beyond_d_for_many_options():
    assert extract_letter("答案是 K", "ABCDEFGHIJKLMNO") == "K"
    assert extract_letter("答案是 K", "ABCD") is None
