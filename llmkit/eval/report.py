"""The report of an evaluation: one headline number, scores per category, baselines, and the report's files.

The headline (`total` in results.json, the total row of report.md, the TOTAL bar of scores.png, the total
column of `llmkit eval compare`) is defined once, in `headline`: the weighted mean of the tracks present,

- `choice`: accuracy (%) of the primary choice method over all choice items,
- `open_reference`: the mean reference metric (x 100) over open items that have references,
- `open_judge`: the judge's mean rating x 10, or the pairwise win rate with ties counted half,

each track a plain mean over its items, the tracks weighted by `report.choice_weight`, `reference_weight`
and `judge_weight` (a track the run lacks drops out). A category's score is the same formula over its own
items, and the overall row's score is the headline.

Files: results.json (everything below), predictions.jsonl (one record per item), report.md (tables),
scores.png (a bar per category and the headline).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.eval import ReportSection
from llmkit.eval.baselines import choice_baselines, noise_warning
from llmkit.eval.choice import LL_METRICS

RESULTS = "results.json"
PREDICTIONS = "predictions.jsonl"
REPORT = "report.md"
CHART = "scores.png"
PAIRWISE_POINTS = {"win": 100.0, "tie": 50.0, "loss": 0.0}
TRACKS = ("choice", "open_reference", "open_judge")


def judge_points(record: dict[str, Any]) -> float | None:
    """An open item's judge score on 0-100, or None when it was not judged or the verdict failed to parse."""
    judgement = record.get("judge")
    if not judgement:
        return None
    if judgement.get("rating") is not None:
        return 10.0 * judgement["rating"]
    return PAIRWISE_POINTS.get(judgement.get("result"))


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def track_scores(records: list[dict[str, Any]]) -> dict[str, float]:
    """The tracks (0-100) the records have, each the mean over its items."""
    tracks = {
        "choice": _mean([r["score"] for r in records if r["type"] == "choice"]),
        "open_reference": _mean([100.0 * r["reference_score"] for r in records if "reference_score" in r]),
        "open_judge": _mean([p for r in records if (p := judge_points(r)) is not None]),
    }
    return {name: value for name, value in tracks.items() if value is not None}


def track_weights(tracks: dict[str, float], weights: ReportSection) -> dict[str, float]:
    weight_of = {"choice": weights.choice_weight, "open_reference": weights.reference_weight,
                 "open_judge": weights.judge_weight}
    return {name: weight_of[name] for name in tracks}


def headline(tracks: dict[str, float], weights: ReportSection) -> float | None:
    """The one number of a run (or of a category): the weighted mean of its tracks."""
    weight_of = track_weights(tracks, weights)
    total_weight = sum(weight_of.values())
    if total_weight <= 0:
        return None
    return round(sum(weight_of[name] * value for name, value in tracks.items()) / total_weight, 2)


def summarize_group(records: list[dict[str, Any]], weights: ReportSection) -> dict[str, Any]:
    choice = [r for r in records if r["type"] == "choice"]
    opened = [r for r in records if r["type"] == "open"]
    tracks = track_scores(records)
    summary: dict[str, Any] = {"items": len(records), "choice_items": len(choice), "open_items": len(opened),
                               "score": headline(tracks, weights), **choice_baselines(records)}
    for method in ("loglikelihood", "loglikelihood_option"):
        for metric in LL_METRICS:
            summary[f"{method}_{metric}"] = _mean([100.0 * r[method][metric] for r in choice if method in r])
    generated = [r["generate"] for r in choice if "generate" in r]
    if generated:
        summary["generate_accuracy"] = _mean([100.0 * g["correct"] for g in generated])
        reasons = [g["no_answer"] for g in generated if g["no_answer"]]
        summary["no_answer"] = len(reasons)
        summary["no_answer_reasons"] = {reason: reasons.count(reason) for reason in sorted(set(reasons))}
    summary["reference_score"] = tracks.get("open_reference")
    summary["judge_score"] = tracks.get("open_judge")
    return {key: value for key, value in summary.items() if value is not None}


def summarize(records: list[dict[str, Any]], weights: ReportSection, primary: str) -> dict[str, Any]:
    """Per category and overall; the tracks, their weights and the headline (`total`); the baseline warning."""
    categories: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        categories.setdefault(record["category"], []).append(record)
    overall = summarize_group(records, weights)
    tracks = track_scores(records)
    warning = noise_warning(tracks["choice"], overall, primary) if "choice" in tracks else None
    return {"total": overall.get("score"), "tracks": tracks, "weights": track_weights(tracks, weights),
            "overall": overall, "baseline_warning": warning,
            "categories": {name: summarize_group(group, weights) for name, group in sorted(categories.items())}}


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
                   output / CHART, f"llmkit eval: {evaluated(results)}")
    return [output / name for name in (PREDICTIONS, RESULTS, REPORT, CHART)]


# (results key, column title, what it means: report.md's legend).
CATEGORY_COLUMNS = [
    ("items", "items", "items scored"),
    ("score", "score", "the headline formula over the row's items: weighted mean of its tracks"),
    ("generate_accuracy", "generate", "% of choice items whose generated answer gives the right letter"),
    ("no_answer", "no answer", "generated answers that give no letter: empty, an echoed option list, several "
                               "letters, or none (predictions.jsonl says which)"),
    ("loglikelihood_acc", "acc", "lm-evaluation-harness's acc: % where the most likely of ' A'..' D' is right"),
    ("loglikelihood_acc_norm", "acc_norm", "lm-evaluation-harness's acc_norm over the letters (log-likelihood "
                                           "per character; equals acc for one-letter choices)"),
    ("loglikelihood_option_acc_norm", "text/char", "% where the option text with the highest log-likelihood per "
                                                   "character is right (not what C-Eval/CMMLU tasks score)"),
    ("majority_baseline", "always", "guessing: always the letter right most often here (that letter)"),
    ("random_baseline", "random", "guessing: a random option, on average"),
    ("reference_score", "reference", "mean reference metric x 100 of open items with references"),
    ("judge_score", "judge", "judge rating x 10, or pairwise win rate (ties half)"),
]


def category_table(results: dict[str, Any]) -> str:
    groups = [*results["categories"].items(), ("overall", results["overall"])]
    present = [(key, title) for key, title, _ in CATEGORY_COLUMNS if any(key in summary for _, summary in groups)]
    rows = [[name] + [_cell(summary, key) for key, _ in present] for name, summary in groups]
    return console.table(["category"] + [title for _, title in present], rows)


def _cell(summary: dict[str, Any], key: str) -> str:
    if key == "majority_baseline" and key in summary:
        return f"{format_cell(summary[key])} {summary['majority_letter']}"
    return format_cell(summary.get(key))


def tracks_table(results: dict[str, Any]) -> str:
    rows = [[name, format_cell(value), format_cell(results["weights"][name])]
            for name, value in results["tracks"].items()]
    return console.table(["track", "score", "weight"], rows + [["total", format_cell(results["total"]), ""]])


def evaluated(results: dict[str, Any]) -> str:
    """What a run evaluated, as its report and chart title it: the model, and the adapter on it if any."""
    return results["model"] + (f" + {Path(results['adapter']).name}" if results.get("adapter") else "")


def markdown_report(results: dict[str, Any]) -> str:
    lines = [f"# llmkit eval: {evaluated(results)}", "",
             f"{results['overall']['items']} items from {', '.join(results['sources'])}; "
             f"choice items scored by {results['choice_primary']} "
             f"({results['choice_shots']}-shot, chat template {'on' if results['chat_template'] else 'off'}).", "",
             f"**Total {format_cell(results['total'])}**: the weighted mean of the tracks below, each the mean "
             f"over its items.", "", "## Totals", "", tracks_table(results), ""]
    if results.get("baseline_warning"):
        lines += [f"Warning: {results['baseline_warning']}.", ""]
    groups = [*results["categories"].values(), results["overall"]]
    legend = [f"- {title}: {meaning}" for key, title, meaning in CATEGORY_COLUMNS if any(key in g for g in groups)]
    lines += ["## Categories", "", category_table(results), "", *legend, ""]
    if results.get("judge"):
        judge = results["judge"]
        lines += ["## Judge", "", console.table(list(judge), [list(judge.values())]), ""]
    for count, what in ((results.get("skipped_rows"), "rows could not be read and were skipped"),
                        (results.get("row_warnings"), "rows were scored with a warning")):
        if count:
            lines += [f"{count} {what} (each listed in llmkit_run.json).", ""]
    return "\n".join(lines)


def format_cell(value: Any) -> str:
    """A table cell: '-' for missing, one decimal for floats."""
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def save_bar_chart(scores: dict[str, float | None], path: Path, title: str) -> Path:
    """One horizontal bar per name (0-100), scores written at the bar ends."""
    from llmkit.plots import pyplot

    plt = pyplot()
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
