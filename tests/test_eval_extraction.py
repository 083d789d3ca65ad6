"""SuperCLUE-style letter extraction: explicit cues, Chinese phrasing, lowercase, and what is not an answer
(an echoed option list, several letters, a letter that is only part of an option's text)."""

import pytest

from llmkit.eval.extraction import ECHO, EMPTY, NONE_FOUND, SEVERAL, extract_answer

OPTIONS = ["上海", "北京", "广州", "深圳"]


def letter(answer, letters="ABCD", options=OPTIONS):
    return extract_answer(answer, letters, options).letter


@pytest.mark.parametrize("answer, expected", [
    ("答案是B", "B"),
    ("选 C。", "C"),
    ("b", "B"),
    ("答案：(d)", "D"),
    ("我认为答案应该是 A，因为", "A"),
    ("正确答案为：选项D", "D"),
    ("选项A是正确的", "A"),
    ("C 选项正确", "C"),
    ("Ｃ", "C"),  # full-width
    ("B. 北京", "B"),  # one option, with its letter: that is choosing it
    ("(A)", "A"),
    ("The answer is (c).", "C"),
    ("I think the answer is b", "B"),
    ("The answer is A because Shanghai is larger.", "A"),
    ("B is the capital.", "B"),
    ("Answer: C\n\nQuestion 2", "C"),
    ("北京是中国的首都", "B"),  # quotes exactly one option's text
])
def test_letters_found(answer, expected):
    assert extract_answer(answer, "ABCD", OPTIONS) == (expected, None)


@pytest.mark.parametrize("answer, reason", [
    ("", EMPTY),
    ("不知道", NONE_FOUND),
    ("我不确定", NONE_FOUND),
    ("the capital is a big city", NONE_FOUND),
    ("答案是E", NONE_FOUND),
    ("上海和北京都很大", NONE_FOUND),  # two options' texts: neither is chosen
    ("A city on the coast.", NONE_FOUND),  # "A" is the article
    ("the answer is a city", NONE_FOUND),
    ("A和B都有可能", SEVERAL),
    ("A, B or C", SEVERAL),
    ("答案：A。不对，答案是C", SEVERAL),
    ("B. 北京，但 C 也有可能", SEVERAL),
])
def test_no_answer_and_why(answer, reason):
    assert extract_answer(answer, "ABCD", OPTIONS) == (None, reason)


# Answers in the shape a small chat model (SmolLM2-135M-Instruct) gives to the sample benchmark's couplet
# items: it repeats the option list, which starts with "A." and so used to be read as the answer A.
COUPLET = ["山高水又长", "天高任鸟飞", "春来花自开", "风吹雨打"]


@pytest.mark.parametrize("answer", [
    "A. 山高水又长\nB. 天高任鸟飞\nC. 春来花自开\nD. 风吹雨打",
    "A. 山高水又长\nB. 天高任鸟飞\nC. 春来花",  # cut by the token budget mid-list
    "The answer is:\n\nA. 山高水又长\nB. 天高任鸟飞\nC. 春来花自开\nD. 风吹雨打",
    "答案：A. 山高水又长\nB. 天高任鸟飞",
    "与上联“海阔凭鱼跃”相对的下联是：\nA. 山高水又长\nB. 天高任鸟飞\nC. 春来花自开\nD. 风吹雨打\n答案：",
    "A、山高水又长 B、天高任鸟飞 C、春来花自开 D、风吹雨打",
])
def test_an_echoed_option_list_is_no_answer(answer):
    assert extract_answer(answer, "ABCD", COUPLET) == (None, ECHO)


def test_a_cue_after_an_echoed_list_still_counts():
    echoed = "A. 山高水又长\nB. 天高任鸟飞\nC. 春来花自开\nD. 风吹雨打\n"
    assert extract_answer(echoed + "答案：B", "ABCD", COUPLET) == ("B", None)
    assert extract_answer("A. 山高水又长\nB. 天高任鸟飞\n答案是B，不，答案是C", "ABCD", COUPLET) == (None, SEVERAL)


def test_a_letter_only_inside_option_texts_is_not_an_answer():
    vitamins = ["维生素A", "维生素B", "维生素C", "维生素D"]
    assert extract_answer("维生素C", "ABCD", vitamins) == ("C", None)  # the text of one option
    assert extract_answer("柠檬富含维生素C和维生素A", "ABCD", vitamins) == (None, NONE_FOUND)
    heights = ["A is taller than B", "B is taller than A", "they are equal", "cannot tell"]
    assert extract_answer("B is taller than A", "ABCD", heights) == ("B", None)
    assert extract_answer("A is taller than B, or B is taller than A.", "ABCD", heights) == (None, NONE_FOUND)
    assert extract_answer("答案是D：cannot tell", "ABCD", heights) == ("D", None)


def test_a_one_letter_option_text_stays_readable():
    # Blood types: the option texts are letters themselves, so they are not blanked out of the answer.
    assert letter("答案是B", options=["A", "B", "AB", "O"]) == "B"


def test_letters_beyond_d_for_many_options():
    assert letter("答案是 K", "ABCDEFGHIJKLMNO", None) == "K"
    assert letter("答案是 K", "ABCD", None) is None
    assert letter("I think K", "ABCDEFGHIJKLMNO", None) == "K"  # "I" before a word is the pronoun
