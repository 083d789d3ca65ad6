"""A leaderboard across `llmkit eval` runs: one row per run, sorted by total, with tracks and categories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.errors import LlmkitError
from llmkit.eval.report import RESULTS, TRACKS, evaluated, format_cell, save_bar_chart

LEADERBOARD_MD = "leaderboard.md"
LEADERBOARD_JSON = "leaderboard.json"
LEADERBOARD_PNG = "leaderboard.png"


def read_results(run: str | Path) -> dict[str, Any]:
    path = Path(run).expanduser() / RESULTS
    if not path.is_file():
        raise LlmkitError(f"{run} is not an `llmkit eval` run folder (no {RESULTS})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise LlmkitError(f"{path} is not valid JSON ({e.msg}); rerun that evaluation") from None


def build_leaderboard(runs: list[str | Path]) -> dict[str, Any]:
    """Rows sorted by total (best first). Categories are those every run has, so the columns compare."""
    if not runs:
        raise LlmkitError("give at least one run folder: llmkit eval compare RUN [RUN ...]")
    results = [(str(run), read_results(run)) for run in runs]
    shared = set.intersection(*(set(r["categories"]) for _, r in results))
    rows = []
    for run, r in results:
        label = evaluated(r)
        rows.append({"run": run, "model": label, "total": r["total"], **{t: r["tracks"].get(t) for t in TRACKS},
                     "categories": {c: r["categories"][c].get("score") for c in sorted(shared)}})
    rows.sort(key=lambda row: -(row["total"] if row["total"] is not None else -1))
    return {"rows": rows, "categories": sorted(shared),
            "categories_left_out": sorted(set().union(*(set(r["categories"]) for _, r in results)) - shared)}


def leaderboard_table(board: dict[str, Any]) -> str:
    tracks = [t for t in TRACKS if any(row[t] is not None for row in board["rows"])]
    headers = ["rank", "model", "total", *tracks, *board["categories"]]
    rows = [[i, row["model"], format_cell(row["total"]), *(format_cell(row[t]) for t in tracks),
             *(format_cell(row["categories"][c]) for c in board["categories"])]
            for i, row in enumerate(board["rows"], 1)]
    return console.table(headers, rows)


def write_leaderboard(board: dict[str, Any], output: Path) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    (output / LEADERBOARD_JSON).write_text(json.dumps(board, indent=1, ensure_ascii=False), encoding="utf-8")
    (output / LEADERBOARD_MD).write_text(leaderboard_table(board) + "\n", encoding="utf-8")
    totals = {f"{i}. {row['model']}": row["total"] for i, row in enumerate(board["rows"], 1)}
    save_bar_chart(totals, output / LEADERBOARD_PNG, "llmkit eval leaderboard (total)")
    return [output / name for name in (LEADERBOARD_JSON, LEADERBOARD_MD, LEADERBOARD_PNG)]
