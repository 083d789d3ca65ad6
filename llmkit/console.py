"""The single place where llmkit writes to the terminal.

Workflows report through these helpers instead of `print`, so that only the main process of a
multi-process run speaks and library users can silence llmkit with `set_quiet(True)`.
"""

from __future__ import annotations

import sys

from llmkit.distributed import is_main_process

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def info(message: str = "") -> None:
    if not _quiet and is_main_process():
        print(message, flush=True)


def stream(text: str) -> None:
    """Write a piece of streamed output (a generated token) without a newline."""
    if is_main_process():
        print(text, end="", flush=True)


def warn(message: str) -> None:
    if is_main_process():
        print(f"warning: {message}", file=sys.stderr, flush=True)


def table(headers: list[str], rows: list[list[object]]) -> str:
    """Render rows as a Markdown table (readable in a terminal and pasteable into README)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(_display_width(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = [c + " " * (w - _display_width(c)) for c, w in zip(row, widths)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def _display_width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in text)
