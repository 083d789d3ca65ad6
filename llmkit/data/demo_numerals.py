"""The built-in `numerals` task: write a number from 1 to 99 in Chinese numerals (47 -> 四十七).

A task for real pretrained models (`llmkit finetune --model smollm2-135m-instruct --data numerals`): the
English-first chat model knows no Chinese numerals (it scores 0% before training), and every held-out
number follows from rules the training split shows. Training holds 1-10, the round tens and the 27
numbers whose two digits sum to a multiple of 3 (so each digit appears in training as tens and as
units); the other 54 numbers are held out. Each is asked in 8 phrasings, 4 English and 4 Chinese.
"""

from __future__ import annotations

import random
from typing import Any

DIGITS = "一二三四五六七八九"
PHRASINGS = [
    "Write {n} in Chinese numerals.",
    "How do you write the number {n} in Chinese characters?",
    "What is {n} in Chinese?",
    "Translate the number {n} into Chinese numerals.",
    "{n} 用汉字怎么写？",
    "把数字 {n} 写成汉字。",
    "{n} 的中文数字是什么？",
    "请用中文数字写出 {n}。",
]


def chinese_numeral(n: int) -> str:
    """1 -> 一, 10 -> 十, 14 -> 十四, 40 -> 四十, 47 -> 四十七 (1 <= n <= 99)."""
    if not 1 <= n <= 99:
        raise ValueError(f"only 1-99 are written here, got {n}")
    tens, units = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else DIGITS[tens - 1] + "十")
    return head + (DIGITS[units - 1] if units else "")


def is_held_out(n: int) -> bool:
    tens, units = divmod(n, 10)
    return n > 10 and units != 0 and (tens + units) % 3 != 0


def numerals_split(split: str, seed: int = 0) -> list[dict[str, Any]]:
    """Chat examples `{"messages": [...]}`: "train" is every training number in every phrasing (360, shuffled
    by `seed`); "test" is each held-out number once (54), in a phrasing fixed per number."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, got {split!r}")
    numbers = [n for n in range(1, 100) if is_held_out(n) == (split == "test")]
    if split == "train":
        pairs = [(n, p) for n in numbers for p in PHRASINGS]
        random.Random(seed).shuffle(pairs)
    else:
        pairs = [(n, PHRASINGS[n % len(PHRASINGS)]) for n in numbers]
    return [{"messages": [{"role": "user", "content": phrasing.format(n=n)},
                          {"role": "assistant", "content": chinese_numeral(n)}]} for n, phrasing in pairs]
