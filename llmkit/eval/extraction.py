"""Find the option letter in a generated answer, SuperCLUE style, and refuse what is not an answer.

Rules, in order (README, "Scoring", states them too):
1. An echoed option list is no answer: when the text repeats two or more options with their letters
   ("A. 上海\nB. 北京"), those are removed and only an explicit cue left outside them ("答案：B") counts.
2. Letters inside an option's own text do not count ("维生素C", "A is older than B"): option texts are
   blanked before letters are looked for.
3. The whole answer is a letter ("B", "(b)", "Ｃ。").
4. Explicit cues: "答案是B", "the answer is (c)", "选 C", "C 选项正确". Cues naming different letters are
   no answer.
5. An answer that starts with a capital letter and a separator ("B.", "(B)", "B 北京"), when it mentions
   no other letter.
6. The text of exactly one option, and no other ("北京是中国的首都").
7. Exactly one capital letter mentioned in the text; several different ones are no answer.
Lowercase letters count only in a cue or as the whole answer, and "A" before a lowercase word is the
English article ("A city"), so neither is read as an answer by accident.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

_NOT_LETTER = r"(?![A-Za-z])"  # \b fails before Chinese characters, which are word characters too
_OPENING = r"[\(\[【]?"  # after NFKC, full-width （ and ［ are ( and [
_CLOSING = r"[\)\]】]?"
_BLANK = "\u2026"  # what an option's text is replaced with: neither a letter nor a separator

# Why an answer has no letter: the keys results.json counts them under.
EMPTY = "empty"
ECHO = "echoed_options"
SEVERAL = "several_letters"
NONE_FOUND = "no_letter"


class Extraction(NamedTuple):
    letter: str | None  # the upper-case letter the answer gives, or None
    no_answer: str | None = None  # why there is none: EMPTY, ECHO, SEVERAL or NONE_FOUND


def _explicit_patterns(letters: str) -> list[re.Pattern[str]]:
    x = f"[{letters}{letters.lower()}]"
    return [re.compile(p, re.IGNORECASE) for p in (
        rf"答案\s*(?:应该|应)?\s*(?:是|为|选)?\s*[:：]?\s*(?:选项)?\s*{_OPENING}({x}){_NOT_LETTER}",
        rf"(?:answer|option|choice)\s*(?:is|would be|should be)?\s*[:：]?\s*{_OPENING}({x}){_NOT_LETTER}",
        rf"(?:选择|选项|选)\s*[:：]?\s*{_OPENING}({x}){_NOT_LETTER}",
        rf"{_OPENING}({x}){_CLOSING}\s*(?:选项)?\s*(?:是|为)?\s*(?:正确|对的|对)",
    )]


def extract_answer(text: str, letters: str, options: list[str] | None = None) -> Extraction:
    """The letter `text` answers with (one of `letters`), or why it gives none."""
    text = unicodedata.normalize("NFKC", text).strip()  # full-width Ａ, （ and ： become A, ( and :
    if not text:
        return Extraction(None, EMPTY)
    options = [unicodedata.normalize("NFKC", o).strip() for o in options or []]
    # 1. An echoed option list: the model repeats the question's options instead of choosing one.
    labelled = _labelled_options(letters, options)
    echoed = [p for p in labelled if p.search(text)]
    if len(echoed) >= 2:
        rest = text
        for pattern in echoed:
            rest = pattern.sub(_BLANK, rest)
        return _from_cues(_cued_letters(_blank_options(rest, options), letters)) or Extraction(None, ECHO)
    # 2. Letters inside option texts are part of the option, not a choice.
    masked = _blank_options(text, options)
    # 3. The whole answer is a letter.
    whole = re.fullmatch(rf"[\(\[]?([{letters}{letters.lower()}])[\)\]]?[.。]?", text)
    if whole:
        return Extraction(whole.group(1).upper(), None)
    # 4. Explicit cues.
    cued = _from_cues(_cued_letters(masked, letters))
    if cued:
        return cued
    mentions = _mentions(masked, letters)
    mentioned = {m.group(1) for m in mentions}
    # 5. An answer that starts with its letter: "B", "B.", "(B)", "B 北京".
    start = re.match(rf"[\(\[]?([{letters}])(?:[\)\].:、,]|\s|$)", masked)
    if start and mentions and mentions[0].start() == start.start(1):
        return Extraction(start.group(1), None) if mentioned == {start.group(1)} else Extraction(None, SEVERAL)
    # 6. The text of exactly one option.
    quoted = [letter for letter, option in zip(letters, options) if option and option in text]
    if len(quoted) == 1:
        return Extraction(quoted[0], None)
    # 7. One letter mentioned anywhere.
    if len(mentioned) == 1:
        return Extraction(mentioned.pop(), None)
    return Extraction(None, SEVERAL if mentioned else NONE_FOUND)


def _labelled_options(letters: str, options: list[str]) -> list[re.Pattern[str]]:
    """One pattern per option with a text: its letter, a separator, then its text ("A. 上海", "(B) 北京")."""
    return [re.compile(rf"(?<![A-Za-z]){_OPENING}{letter}{_CLOSING}\s*[.:、,]?\s*{re.escape(option)}")
            for letter, option in zip(letters, options) if option]


def _blank_options(text: str, options: list[str]) -> str:
    # Longest first, so an option inside another ("北京" in "北京大学") does not split it. A one-character
    # option may be a letter itself ("A" blood type): it cannot be told from an answer and stays.
    for option in sorted((o for o in options if len(o) > 1), key=len, reverse=True):
        text = text.replace(option, _BLANK)
    return text


def _from_cues(cued: set[str]) -> Extraction | None:
    """The letter the cues name, no answer when they name several, None when there are none."""
    if not cued:
        return None
    return Extraction(cued.pop(), None) if len(cued) == 1 else Extraction(None, SEVERAL)


def _cued_letters(text: str, letters: str) -> set[str]:
    return {m.group(1).upper() for pattern in _explicit_patterns(letters) for m in pattern.finditer(text)
            if not (m.group(1) == "a" and _before_a_word(text, m))}


def _mentions(text: str, letters: str) -> list[re.Match[str]]:
    """Capital letters standing alone, in order of appearance."""
    return [m for m in re.finditer(rf"(?<![A-Za-z])([{letters}]){_NOT_LETTER}", text)
            if not (m.group(1) in "AI" and _before_a_word(text, m))]


def _before_a_word(text: str, match: re.Match[str]) -> bool:
    """"a"/"A" or "I" before a lowercase word is the English article or pronoun, not an option letter."""
    return re.match(r"\s[a-z]", text[match.end(1):]) is not None
