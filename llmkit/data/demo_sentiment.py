"""A built-in English sentiment task for `--task classify`: short reviews, some of them negated.

The label is the adjective's polarity, flipped by a negation ("not good" is negative); in a contrast
("The meal was awful, but the service was lovely.") the clause after "but" / the main clause decides.
The held-out split uses adjectives that never appear in training, so a classifier must bring its own
knowledge of words (a pretrained encoder has it; a random one cannot) and learn how negation and
contrast compose.
"""

from __future__ import annotations

import hashlib
import random

LABELS = ["negative", "positive"]

POSITIVE = ("good great excellent wonderful delightful superb lovely pleasant fantastic marvelous brilliant "
            "enjoyable charming impressive outstanding terrific splendid fine nice perfect remarkable "
            "beautiful amazing awesome satisfying friendly comfortable tasty elegant fabulous").split()
NEGATIVE = ("bad terrible awful horrible dreadful poor disappointing unpleasant boring mediocre lousy "
            "dull annoying disgusting pathetic miserable atrocious frustrating ugly rude noisy dirty "
            "bland tedious clumsy shabby gloomy painful useless nasty").split()
NOUNS = ("movie meal hotel book service concert phone trip class show album game restaurant room "
         "lecture coffee museum flight").split()
PLAIN = ("The {noun} was {adj}.", "What {a} {adj} {noun}!", "I found the {noun} {adj}.",
         "Honestly, the {noun} is {adj}.", "Our {noun} turned out {adj}.")
NEGATED = ("The {noun} was not {adj}.", "I would never call the {noun} {adj}.",
           "The {noun} wasn't {adj} at all.", "Nobody found the {noun} {adj}.",
           "Honestly, the {noun} is not {adj}.")
# {other} has the opposite polarity of {adj}; the label follows {adj}.
CONTRAST = ("The {noun2} was {other}, but the {noun} was {adj}.",
            "Although the {noun2} was {other}, the {noun} was {adj}.",
            "The {noun} was {adj}, even if the {noun2} was {other}.",
            "I expected {a} {other} {noun}, yet it was {adj}.")


def _is_test_word(word: str) -> bool:
    # A fixed fifth of the adjectives, chosen by hash, appears only in the held-out split.
    return int(hashlib.md5(word.encode()).hexdigest(), 16) % 5 == 0


def demo_sentiment_split(split: str, n: int, seed: int = 0) -> list[dict[str, str]]:
    """`n` examples {"text", "label"} of split "train" or "test": a third plain, a third negated, a third
    contrasting two clauses; labels balanced."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, got {split!r}")
    words = {polarity: [w for w in pool if _is_test_word(w) == (split == "test")]
             for polarity, pool in (("positive", POSITIVE), ("negative", NEGATIVE))}
    rng = random.Random(f"{split}-{seed}")
    examples = []
    for i in range(n):
        polarity = ("positive", "negative")[i % 2]
        opposite = "negative" if polarity == "positive" else "positive"
        form = (i // 2) % 3  # 0 plain, 1 negated, 2 contrast
        template = rng.choice((PLAIN, NEGATED, CONTRAST)[form])
        adj, other = rng.choice(words[polarity]), rng.choice(words[opposite])
        noun, noun2 = rng.sample(NOUNS, 2)
        article = "an" if (other if "{other} {noun}" in template else adj)[0] in "aeiou" else "a"
        text = template.format(noun=noun, noun2=noun2, adj=adj, other=other, a=article)
        label = opposite if form == 1 else polarity
        examples.append({"text": text, "label": label})
    rng.shuffle(examples)
    return examples
