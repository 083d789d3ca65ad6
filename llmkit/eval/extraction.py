"""Find the option letter in a generated answer, SuperCLUE style: no letter found means a wrong answer.

Patterns are tried from the most explicit ("答案是B", "the answer is (c)", "选 C") to the least (an answer
that starts with a letter, or the text of exactly one option). Lowercase letters count only inside an
explicit pattern or as the whole answer, since "a" is also an English word. An answer naming two
different letters with no explicit cue is ambiguous and counts as no answer.
"""

from __future__ import annotations

import re
import unicodedata

_NOT_LETTER = r"(?![A-Za-z])"  # \b fails before Chinese characters, which are word characters too


def _explicit_patterns(letters: str) -> list[re.Pattern[str]]:
    x = f"[{letters}{letters.lower()}]"
    opening = r"[\(（\[【]?"
    return [re.compile(p, re.IGNORECASE) for p in (
        rf"答案\s*(?:应该|应)?\s*(?:是|为|选)?\s*[:：]?\s*(?:选项)?\s*{opening}({x}){_NOT_LETTER}",
        rf"(?:answer|option|choice)\s*(?:is|would be|should be)?\s*[:：]?\s*{opening}({x}){_NOT_LETTER}",
        rf"(?:选择|选项|选)\s*[:：]?\s*{opening}({x}){_NOT_LETTER}",
        rf"{opening}({x})[\)）\]】]?\s*(?:选项)?\s*(?:是|为)?\s*(?:正确|对的|对)",
    )]


def extract_letter(text: str, letters: str, options: list[str] | None = None) -> str | None:
    """The upper-case option letter `text` answers with, or None when there is none (or it is ambiguous)."""
    text = unicodedata.normalize("NFKC", text).strip()  # full-width Ａ, （ and ： become A, ( and :
    if not text:
        return None
    if len(text) == 1 or re.fullmatch(r"[\(\[]?\w[\)\]]?[.。]?", text):  # the whole answer is a letter
        letter = re.sub(r"[^A-Za-z]", "", text).upper()
        return letter if len(letter) == 1 and letter in letters else None
    for pattern in _explicit_patterns(letters):
        match = pattern.search(text)
        if match:
            return match.group(1).upper()
    # An answer that starts with a capital letter and a separator: "B", "B.", "(B)", "B 北京".
    match = re.match(rf"[\(\[]?([{letters}])(?:[\)\].:、,，\s]|$)", text)
    if match:
        return match.group(1)
    if options:
        # An answer that quotes one option's text and no other.
        quoted = [letter for letter, option in zip(letters, options) if option.strip() and option.strip() in text]
        if len(quoted) == 1:
            return quoted[0]
    standalone = set(re.findall(rf"(?<![A-Za-z])([{letters}]){_NOT_LETTER}", text))
    return standalone.pop() if len(standalone) == 1 else None
