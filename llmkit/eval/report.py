"""The report of an evaluation: scores per category and overall, SuperCLUE-style track totals, and its files.

Tracks (each 0-100): `choice` (accuracy of the primary choice method), `open_reference` (the mean reference
metric of open items that have references), `open_judge` (the judge's mean rating x 10, or the pairwise
win rate with ties counted half). The total is the weighted mean of the tracks the run has.

Files: results.json (everything below), predictions.jsonl (one record per item), report.md (tables),
scores.png (a bar per category and the total).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config import ReportSection

RESULTS = "results.json"
PREDICTIONS = "predictions.jsonl"
REPORT = "report.md"
CHART = "scores.png"
PAIRWISE_POINTS = {"win": 100.0, "tie": 50.0, "loss": 0.0}


def judge_points(record: dict[str, Any]) -> float | None:
    """An open item's judge score on 0-100, or None when it was not judged or the verdict failed to parse."""
    judgement = record.get("judge")
    if not judgement:
        return None
    if judgement.get("rating") is not None:
        return 10.0 * judgement["rating"]
    return PAIRWISE_POINTS.get(judgement.get("result"))


def item_score(record: dict[str, Any]) -> float | None:
    """The one number an item adds to its category: choice 0/100, open by judge if judged, else by reference."""
    if record["type"] == "choice":
        return record["score"]
    points = judge_points(record)
    if points is not None:
        return points
    return 100.0 * record["reference_score"] if "reference_score" in record else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def summarize_group(records: list[dict[str, Any]]) -> dict[str, Any]:
    choice = [r for r in records if r["type"] == "choice"]
    opened = [r for r in records if r["type"] == "open"]
    summary: dict[str, Any] = {"items": len(records), "choice_items": len(choice), "open_items": len(opened),
                               "score": _mean([s for r in records if (s := item_score(r)) is not None])}
    for method in ("loglikelihood", "loglikelihood_option", "generate"):
        scored = [r[method]["correct"] for r in choice if method in r]
        if scored:
            summary[f"{method}_accuracy"] = _mean([100.0 * c for c in scored])
    if any("generate" in r for r in choice):
        summary["unextracted"] = sum(r["generate"]["extracted"] is None for r in choice if "generate" in r)
    summary["reference_score"] = _mean([100.0 * r["reference_score"] for r in opened if "reference_score" in r])
    summary["judge_score"] = _mean([p for r in opened if (p := judge_points(r)) is not None])
    return {key: value for key, value in summary.items() if value is not None}


def summarize(records: list[dict[str, Any]], weights: ReportSection) -> dict[str, Any]:
    """Per category, overall, the tracks and the weighted total."""
    categories: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        categories.setdefault(record["category"], []).append(record)
    tracks = {
        "choice": _mean([r["score"] for r in records if r["type"] == "choice"]),
        "open_reference": _mean([100.0 * r["reference_score"] for r in records if "reference_score" in r]),
        "open_judge": _mean([p for r in records if (p := judge_points(r)) is not None]),
    }
    tracks = {name: value for name, value in tracks.items() if value is not None}
    weight_of = {"choice": weights.choice_weight, "open_reference": weights.reference_weight,
                 "open_judge": weights.judge_weight}
    total_weight = sum(weight_of[name] for name in tracks)
    total = round(sum(weight_of[name] * value for name, value in tracks.items()) / total_weight, 2) \
        if total_weight > 0 else None
    return {"total": total, "tracks": tracks, "weights": {name: weight_of[name] for name in tracks},
            "overall": summarize_group(records),
            "categories": {name: summarize_group(group) for name, group in sorted(categories.items())}}


def judge_summary(records: list[dict[str, Any]], mode: str, backend: str) -> dict[str, Any]:
    judged = [r for r in records if "judge" in r]
    failed = [r for r in judged if judge_points(r) is None]
    summary: dict[str, Any] = {"judge": backend, "mode": mode, "judged": len(judged) - len(failed),
                               "parse_failures": len(failed)}
    if mode == "pairwise":
        for result, plural in (("win", "wins"), ("tie", "ties"), ("loss", "losses")):
            summary[plural] = sum(r["judge"].get("result") == result for r in judged)
    return summary


def write_report(output: Path, records: list[dict[str, Any]], results: dict[str, Any]) -> list[Path]:
    """predictions.jsonl, results.json, report.md and scores.png in `output`."""
    with (output / PREDICTIONS).open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    (output / RESULTS).write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    (output / REPORT).write_text(markdown_report(results), encoding="utf-8")
    save_bar_chart({**{n: c.get("score") for n, c in results["categories"].items()}, "TOTAL": results["total"]},
                   output / CHART, f"llmkit eval: {results['model']}")
    return [output / name for name in (PREDICTIONS, RESULTS, REPORT, CHART)]


CATEGORY_COLUMNS = [("items", "items"), ("score", "score"), ("generate_accuracy", "generate acc"),
                    ("loglikelihood_accuracy", "log-lik acc"), ("loglikelihood_option_accuracy", "option acc"),
                    ("unextracted", "no letter"), ("reference_score", "reference"), ("judge_score", "judge")]


def category_table(results: dict[str, Any]) -> str:
    present = [(key, title) for key, title in CATEGORY_COLUMNS
               if any(key in c for c in [*results["categories"].values(), results["overall"]])]
    rows = [[name] + [format_cell(summary.get(key)) for key, _ in present]
            for name, summary in [*results["categories"].items(), ("overall", results["overall"])]]
    return console.table(["category"] + [title for _, title in present], rows)


def tracks_table(results: dict[str, Any]) -> str:
    rows = [[name, format_cell(value), format_cell(results["weights"][name])]
            for name, value in results["tracks"].items()]
    return console.table(["track", "score", "weight"], rows + [["total", format_cell(results["total"]), ""]])


def markdown_report(results: dict[str, Any]) -> str:
    adapter = f" + {results['adapter']}" if results.get("adapter") else ""
    lines = [f"# llmkit eval: {results['model']}{adapter}", "",
             f"{results['overall']['items']} items from {', '.join(results['sources'])}; "
             f"choice items scored by {results['choice_primary']} "
             f"({results['choice_shots']}-shot, chat template {'on' if results['chat_template'] else 'off'}).", "",
             "## Totals", "", tracks_table(results), "", "## Categories", "", category_table(results), ""]
    if results.get("judge"):
        judge = results["judge"]
        lines += ["## Judge", "", console.table(list(judge), [list(judge.values())]), ""]
    if results.get("skipped_rows"):
        lines += [f"{results['skipped_rows']} rows could not be read and were skipped (see llmkit_run.json).", ""]
    return "\n".join(lines)


def format_cell(value: Any) -> str:
    """A table cell: '-' for missing, one decimal for floats."""
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def save_bar_chart(scores: dict[str, float | None], path: Path, title: str) -> Path:
    """One horizontal bar per name (0-100), scores written at the bar ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _use_cjk_font(plt, scores)
    names = [n for n, v in scores.items() if v is not None]
    values = [scores[n] for n in names]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.5))
    bars = ax.barh(names[::-1], values[::-1], color=["#c44e52" if n == "TOTAL" else "#4c72b0" for n in names[::-1]])
    ax.bar_label(bars, fmt="%.1f", padding=2, fontsize=8)
    ax.set_xlim(0, 105)
    ax.set_xlabel("score (0-100)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _use_cjk_font(plt: Any, scores: dict[str, Any]) -> None:
    """Chinese names need a CJK font: use one when the system has it (otherwise the glyphs show as boxes)."""
    if not any(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in scores):
        return
    from matplotlib import font_manager

    cjk = [f.name for f in font_manager.fontManager.ttflist
           if any(mark in f.name for mark in ("CJK", "Hei", "Song", "Kai", "WenQuanYi", "Droid Sans Fallback"))]
    if cjk:
        plt.rcParams["font.sans-serif"] = [cjk[0], *plt.rcParams["font.sans-serif"]]
    else:
        console.warn("no CJK font found: Chinese category names in scores.png show as boxes "
                     "(install e.g. fonts-noto-cjk)")
