"""How many tokens a generated answer may take, per category.

The recipe keys `choice.category_max_new_tokens` (choice answers) and `generation.category_max_new_tokens`
(open answers) list "CATEGORY=N" entries; CATEGORY is a category name or a prefix such as `ceval/`, as
`--categories` takes them, and the longest (most specific) one that names a category wins. Categories no
entry names take `choice.max_new_tokens` or `generation.max_new_tokens`. A couplet or a code answer needs
more room than "答案：B", and a budget cut inside the answer is scored as what was written by then.
"""

from __future__ import annotations

from llmkit.errors import LlmkitError
from llmkit.eval.items import in_category


def parse_budgets(entries: list[str], key: str = "choice.category_max_new_tokens") -> dict[str, int]:
    """{category or prefix: tokens} from the "CATEGORY=N" entries of recipe key `key`; a malformed entry is a
    one-line error."""
    budgets = {}
    for entry in entries:
        name, sep, tokens = entry.partition("=")
        if not sep or not name.strip() or not tokens.strip().isdigit() or int(tokens) < 1:
            raise LlmkitError(f"{key} entry {entry!r} is not CATEGORY=N with N at least 1 "
                              f"(e.g. couplet=64 or ceval/=16)")
        budgets[name.strip()] = int(tokens)
    return budgets


def budget_for(category: str, default: int, budgets: dict[str, int]) -> int:
    """The token budget of `category`'s generated answers."""
    named = [name for name in budgets if in_category(category, name)]
    return budgets[max(named, key=len)] if named else default
