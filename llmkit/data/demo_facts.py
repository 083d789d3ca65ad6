"""The small bilingual world behind llmkit's built-in demo: facts with checkable answers.

Each fact is written for two readers. The pretraining corpus states it in prose and in a plain
"问：… 答：…" / "Q: … A: …" layout, so the base model learns the facts and how to answer them. The
instruction data asks the same questions inside the tokenizer's chat template, which the base model
has never seen. Held-out facts are split off by a stable hash, so the test questions never appear in
the instruction data: the before/after table measures what fine-tuning adds, answering in the chat.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

ZH_DIGITS = "零一二三四五六七八九"
EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
           "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
           "nineteen"]
EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
ZH_MONTHS = ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"]
WORDS = {"猫": "cat", "狗": "dog", "苹果": "apple", "水": "water", "书": "book", "山": "mountain", "河": "river",
         "太阳": "sun", "月亮": "moon", "学校": "school", "老师": "teacher", "学生": "student", "朋友": "friend",
         "红色": "red", "蓝色": "blue", "绿色": "green", "大": "big", "小": "small", "茶": "tea", "米饭": "rice",
         "鱼": "fish", "鸟": "bird", "花": "flower", "树": "tree", "雨": "rain", "雪": "snow", "风": "wind",
         "火": "fire", "城市": "city", "电脑": "computer"}
EN_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ZH_DAYS = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]


def chinese_numeral(n: int) -> str:
    """1..999 in Chinese numerals: 10 -> 十, 15 -> 十五, 105 -> 一百零五, 110 -> 一百一十."""
    if not 0 < n < 1000:
        raise ValueError(f"chinese_numeral covers 1..999, got {n}")
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    parts = []
    if hundreds:
        parts.append(ZH_DIGITS[hundreds] + "百")
        if tens == 0 and ones:
            parts.append("零")
    if tens:
        parts.append(("" if tens == 1 and not hundreds else ZH_DIGITS[tens]) + "十")
    if ones:
        parts.append(ZH_DIGITS[ones])
    return "".join(parts)


def english_number(n: int) -> str:
    """1..99 in English words: 47 -> forty-seven."""
    if not 0 < n < 100:
        raise ValueError(f"english_number covers 1..99, got {n}")
    if n < 20:
        return EN_ONES[n]
    return EN_TENS[n // 10] + ("-" + EN_ONES[n % 10] if n % 10 else "")


@dataclass(frozen=True)
class Fact:
    kind: str
    lang: str  # "zh" or "en"
    key: str  # identifies the fact; the train/test split hashes it
    prose: tuple[str, ...]  # corpus sentences stating the fact
    questions: tuple[str, ...]  # ways to ask for it
    answer: str

    @property
    def is_test(self) -> bool:
        # A fixed 20% of facts are held out, the same on every machine and run.
        return int(hashlib.md5(self.key.encode()).hexdigest(), 16) % 5 == 0


def _zh_numeral_facts() -> Iterator[Fact]:
    for n in range(1, 51):
        zh = chinese_numeral(n)
        yield Fact("zh_numeral", "zh", f"zh_numeral:{n}",
                   (f"{n}的中文写法是{zh}。", f"数字{n}读作{zh}。", f"{zh}就是{n}。"),
                   (f"把{n}写成中文数字。", f"{n}用中文数字怎么写？"), zh)
        yield Fact("zh_numeral", "en", f"zh_numeral_en:{n}",
                   (f"{n} is written {zh} in Chinese.", f"In Chinese numerals, {n} is {zh}."),
                   (f"How do you write {n} in Chinese numerals?", f"Write {n} in Chinese numerals."), zh)


def _en_words_facts() -> Iterator[Fact]:
    for n in range(1, 51):
        words = english_number(n)
        yield Fact("en_words", "en", f"en_words:{n}",
                   (f"{n} is spelled {words}.", f"The number {n} is written {words} in English."),
                   (f"Write {n} in English words.", f"How is {n} spelled in English?"), words)
        yield Fact("en_words", "zh", f"en_words_zh:{n}",
                   (f"{n}用英文写作{words}。", f"{n}的英文是{words}。"),
                   (f"{n}的英文单词是什么？", f"用英文单词写出{n}。"), words)


def _successor_facts(kind: str, en_cycle: list[str], zh_cycle: list[str], en_prose: tuple[str, ...],
                     en_questions: tuple[str, ...], zh_prose: tuple[str, ...],
                     zh_questions: tuple[str, ...]) -> Iterator[Fact]:
    """Facts "what follows X" over a cycle (weekdays, months); templates use {x} and {y} (the successor)."""
    for cycle, lang, prose, questions in ((en_cycle, "en", en_prose, en_questions),
                                          (zh_cycle, "zh", zh_prose, zh_questions)):
        for i, x in enumerate(cycle):
            y = cycle[(i + 1) % len(cycle)]
            yield Fact(kind, lang, f"{kind}_{lang}:{i}", tuple(t.format(x=x, y=y) for t in prose),
                       tuple(t.format(x=x) for t in questions), y)


def _next_day_facts() -> Iterator[Fact]:
    return _successor_facts(
        "next_day", EN_DAYS, ZH_DAYS,
        ("The day after {x} is {y}.", "{y} comes after {x}."), ("What day comes after {x}?", "Which day follows {x}?"),
        ("{x}的后一天是{y}。", "{x}过后是{y}。"), ("{x}的后一天是星期几？", "{x}之后是哪一天？"))


def _next_month_facts() -> Iterator[Fact]:
    return _successor_facts(
        "next_month", EN_MONTHS, ZH_MONTHS,
        ("The month after {x} is {y}.", "{y} follows {x}."),
        ("What month comes after {x}?", "Which month follows {x}?"),
        ("{x}的下一个月是{y}。", "{x}过完是{y}。"), ("{x}的下一个月是几月？", "{x}之后是哪个月？"))


def _translation_facts() -> Iterator[Fact]:
    for zh, en in WORDS.items():
        yield Fact("translate", "zh", f"translate_zh_en:{zh}",
                   (f"“{zh}”的英文是{en}。", f"{zh}用英语说是{en}。"),
                   (f"“{zh}”的英文是什么？", f"{zh}用英语怎么说？"), en)
        yield Fact("translate", "en", f"translate_en_zh:{en}",
                   (f"The Chinese for {en} is {zh}.", f"In Chinese, {en} is {zh}."),
                   (f"What is {en} in Chinese?", f"How do you say {en} in Chinese?"), zh)


def _km_facts() -> Iterator[Fact]:
    for n in range(1, 31):
        m = str(n * 1000)
        yield Fact("km_to_m", "en", f"km_en:{n}",
                   (f"{n} kilometers is {m} meters.", f"There are {m} meters in {n} kilometers."),
                   (f"How many meters are in {n} kilometers?", f"Convert {n} km to meters."), m)
        yield Fact("km_to_m", "zh", f"km_zh:{n}",
                   (f"{n}千米等于{m}米。", f"{n}公里是{m}米。"),
                   (f"{n}千米是多少米？", f"把{n}公里换算成米。"), m)


FACT_KINDS: dict[str, Callable[[], Iterator[Fact]]] = {
    "zh_numeral": _zh_numeral_facts,
    "en_words": _en_words_facts,
    "next_day": _next_day_facts,
    "next_month": _next_month_facts,
    "translate": _translation_facts,
    "km_to_m": _km_facts,
}


def all_facts() -> list[Fact]:
    return [fact for make in FACT_KINDS.values() for fact in make()]


def balanced_sample(facts: list[Fact], n: int, seed: int) -> list[Fact]:
    """Up to n facts, drawn round-robin over kinds and languages so that no kind dominates."""
    groups: dict[tuple[str, str], list[Fact]] = {}
    for fact in facts:
        groups.setdefault((fact.kind, fact.lang), []).append(fact)
    rng = random.Random(seed)
    for members in groups.values():
        rng.shuffle(members)
    picked: list[Fact] = []
    keys = sorted(groups)
    while len(picked) < n and any(groups.values()):
        for key in keys:
            if groups[key] and len(picked) < n:
                picked.append(groups[key].pop())
    return picked
