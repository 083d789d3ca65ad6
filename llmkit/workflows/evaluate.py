"""Evaluate a model on benchmarks, SuperCLUE style (`llmkit eval`).

Steps: 1. check settings, read the benchmarks (bad rows reported and skipped, doubtful ones warned about) and
check the shots they hold  2. load the model (base, merged, fine-tuning output, or base + adapter)  3. choice
items: log-likelihood and generation + letter extraction  4. open items: answers and reference metrics  5. the
judge  6. report: results.json, predictions.jsonl, report.md, scores.png, the tables on the terminal and a
warning when the choice score is no better than guessing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.cache import BUILTIN_BASE_NAME
from llmkit.config.eval import BenchmarkSection, EvalConfig, EvalModelSection
from llmkit.errors import LlmkitError
from llmkit.eval.items import Benchmark, EvalItem, in_category
from llmkit.run_dir import RunRecord, check_output_dir, default_output, prepare_output_dir

SKIPPED_SHOWN = 5


def run(cfg: EvalConfig) -> dict[str, Any]:
    # 1. Everything a user can get wrong is checked before a model loads or a folder is written.
    check_settings(cfg)
    bench = load_benchmark(cfg.benchmark)
    check_shots(bench, cfg.choice.shots)
    judge = _make_judge(cfg)
    pairwise = judge is not None and cfg.judge.mode == "pairwise"
    baseline_kind = baseline_source(cfg.judge.baseline) if pairwise else None
    baseline = read_baseline_answers(cfg.judge.baseline) if baseline_kind == "run" else None
    label = _model_label(cfg.model)
    # A run of base + adapter is named for the adapter: several adapters on one base get telling folder names.
    named_for = cfg.model.adapter or label
    output = Path(cfg.output) if cfg.output else default_output("eval", Path(named_for).name)
    check_output_dir(output, cfg.overwrite, cfg)

    # 2. The model.
    model, tokenizer, fingerprint_sources = load_eval_model(cfg.model)
    prepare_output_dir(output, cfg.overwrite, cfg)
    record = RunRecord(output, "eval", cfg)
    record.update(model=label, items=len(bench.items), skipped_rows=[str(s) for s in bench.skipped],
                  row_warnings=[str(w) for w in bench.warnings])
    cache = _output_cache(cfg, fingerprint_sources)
    batch_size = cfg.generation.batch_size

    # 3. Choice items, both ways.
    choice_items = [i for i in bench.items if i.type == "choice"]
    open_items = [i for i in bench.items if i.type == "open"]
    records: list[dict[str, Any]] = []
    if choice_items:
        from llmkit.eval.choice import score_choice_items

        record.start("choice")
        seconds: dict[str, float] = {}
        records += score_choice_items(model, tokenizer, choice_items, bench.shots, cfg.choice,
                                      batch_size=batch_size, cache=cache, budgets=category_budgets(cfg)[0],
                                      seconds=seconds)
        record.stop("choice")
        record.update(throughput={f"choice {method}": _throughput(len(choice_items), s)
                                  for method, s in seconds.items()})

    # 4. Open items: answers, then reference metrics.
    if open_items:
        from llmkit.eval.open_answers import add_reference_scores, answer_open_items

        record.start("open")
        open_records = answer_open_items(model, tokenizer, open_items, max_new_tokens=cfg.generation.max_new_tokens,
                                         batch_size=batch_size, cache=cache, budgets=category_budgets(cfg)[1])
        add_reference_scores(open_records)
        record.update(throughput={"open answers": _throughput(len(open_items), record.stop("open"))})
        # 5. The judge (pairwise against a baseline model: that model answers the same prompts first).
        if judge is not None:
            record.start("judge")
            if baseline_kind == "model":
                baseline = answer_with_baseline_model(cfg, open_items)
            add_judgements(judge, cfg.judge.mode, open_records, baseline)
            record.stop("judge")
        records += open_records

    # 6. Report.
    from llmkit.eval.report import category_table, judge_summary, summarize, tracks_table, write_report

    results = {"model": label, "adapter": cfg.model.adapter, "sources": cfg.benchmark.sources,
               "choice_primary": cfg.choice.primary, "choice_shots": cfg.choice.shots,
               "chat_template": cfg.choice.chat_template, "skipped_rows": len(bench.skipped),
               "row_warnings": len(bench.warnings), **summarize(records, cfg.report, cfg.choice.primary)}
    if judge is not None:
        results["judge"] = judge_summary(records, cfg.judge.mode, judge.name)
        _warn_judge_failures(judge, results["judge"])
    files = write_report(output, records, results)
    record.update(metrics={"total": results["total"], **results["tracks"]},
                  cache={"hits": cache.hits, "misses": cache.misses, "file": str(cache.path)},
                  files=[f.name for f in files], status="finished")
    console.info("\n" + tracks_table(results) + "\n\n" + category_table(results))
    if results["baseline_warning"]:
        console.warn(results["baseline_warning"])
    console.info(f"\nmodel outputs: {cache.hits} from the cache, {cache.misses} computed; " + ", ".join(
        f"{mode} {t['items']} items in {t['seconds']:.0f} s ({t['items_per_s']:.2f}/s)"
        for mode, t in record.data.get("throughput", {}).items()))
    console.info(f"saved to {output}")
    return {"output": output, "results": results, "records": records}


def _throughput(items: int, seconds: float) -> dict[str, float]:
    """How fast a scoring mode went (answers from the output cache count: a rerun is fast)."""
    return {"items": items, "seconds": round(seconds, 2), "items_per_s": round(items / max(seconds, 1e-9), 3)}


def check_settings(cfg: EvalConfig) -> None:
    if not cfg.choice.methods:
        raise LlmkitError("choice.methods is empty; use loglikelihood, loglikelihood_option and/or generate")
    if cfg.choice.primary not in cfg.choice.methods:
        raise LlmkitError(f"choice.primary={cfg.choice.primary} needs {cfg.choice.primary} in choice.methods "
                          f"(now {', '.join(cfg.choice.methods)})")
    if cfg.choice.shots < 0 or cfg.benchmark.limit < 0 or cfg.generation.batch_size < 1:
        raise LlmkitError("choice.shots and benchmark.limit must be 0 or more, generation.batch_size at least 1")
    if cfg.judge.mode == "pairwise" and cfg.judge.kind != "none" and not cfg.judge.baseline:
        raise LlmkitError("judge.mode=pairwise needs judge.baseline: an earlier `llmkit eval` run folder or a "
                          "model folder")
    if not cfg.benchmark.sources:
        raise LlmkitError("no benchmark given; use --data sample, --data demo-task or --data PATH")
    category_budgets(cfg)  # a malformed entry fails here, before the model loads


def category_budgets(cfg: EvalConfig) -> tuple[dict[str, int], dict[str, int]]:
    """(choice answers', open answers') token budgets as {category or prefix: tokens}."""
    from llmkit.eval.token_budget import parse_budgets

    return (parse_budgets(cfg.choice.category_max_new_tokens),
            parse_budgets(cfg.generation.category_max_new_tokens, "generation.category_max_new_tokens"))


def check_shots(bench: Benchmark, shots: int) -> None:
    """Refuse more shots than a scored category's dev split holds, as lm-evaluation-harness does (its first_n
    sampler stops with an error): fewer shots than asked would be a different benchmark under the same name."""
    if not shots:
        return
    categories = sorted({i.category for i in bench.items if i.type == "choice"})
    short = {c: len(bench.shots.get(c, [])) for c in categories if len(bench.shots.get(c, [])) < shots}
    if short:
        listed = ", ".join(f"{c} has {n}" for c, n in list(short.items())[:SKIPPED_SHOWN])
        more = f" (and {len(short) - SKIPPED_SHOWN} more categories)" if len(short) > SKIPPED_SHOWN else ""
        raise LlmkitError(f"choice.shots={shots} asks for more solved examples than the dev split holds: {listed}"
                          f"{more}; use --shots {min(short.values())} or fewer, or --categories without these")


def load_benchmark(section: BenchmarkSection) -> Benchmark:
    """Every source, filtered to the asked categories and limited per category; skipped rows reported."""
    from llmkit.eval.formats import load_source

    bench = Benchmark()
    for source in section.sources:
        bench.extend(load_source(source, section.split, demo_task_items=section.demo_task_items))
    for row in bench.skipped[:SKIPPED_SHOWN]:
        console.warn(f"skipped {row}")
    if bench.skipped:
        console.warn(f"{len(bench.skipped)} rows skipped in all; the run goes on with the other "
                     f"{len(bench.items)} items (every skipped row is listed in llmkit_run.json)")
    for row in bench.warnings[:SKIPPED_SHOWN]:
        console.warn(str(row))
    if len(bench.warnings) > SKIPPED_SHOWN:
        console.warn(f"{len(bench.warnings)} row warnings in all (every one is listed in llmkit_run.json)")
    if section.categories:
        bench.items = [i for i in bench.items if any(in_category(i.category, w) for w in section.categories)]
    bench.items = [i for i in bench.items if i.type in section.types]
    if section.limit:
        counts: dict[str, int] = {}
        kept = []
        for item in bench.items:
            counts[item.category] = counts.get(item.category, 0) + 1
            if counts[item.category] <= section.limit:
                kept.append(item)
        bench.items = kept
    if not bench.items:
        wanted = f" in categories {', '.join(section.categories)}" if section.categories else ""
        wanted += f" of type {', '.join(section.types)}" if set(section.types) != {"choice", "open"} else ""
        raise LlmkitError(f"no items to evaluate{wanted} from {', '.join(section.sources)}; check the files "
                          f"and --categories")
    return bench


def _model_label(model: EvalModelSection) -> str:
    """The base model's path, or the folder name of the base an adapter names, or the built-in model's label."""
    if model.path:
        return model.path
    if model.adapter:
        from llmkit.models.finetuned import read_manifest

        return Path(read_manifest(model.adapter).base_model).name
    return BUILTIN_BASE_NAME


def load_eval_model(section: EvalModelSection) -> tuple[Any, Any, list[str]]:
    """(model, tokenizer, the folders whose files make its outputs): a base or merged model, a fine-tuning
    output, or a base + `adapter`. With neither path nor adapter, llmkit's built-in base model."""
    from llmkit.inference.loader import load_for_inference

    model = section.path or (None if section.adapter else BUILTIN_BASE_NAME)
    loaded = load_for_inference(model, adapter=section.adapter, dtype=section.dtype,
                                trust_remote_code=section.trust_remote_code, task="sft", job="eval")
    return loaded.model, loaded.tokenizer, loaded.sources


def _output_cache(cfg: EvalConfig, sources: list[str]) -> Any:
    from llmkit.cache import cache_root
    from llmkit.eval.output_cache import OutputCache, model_fingerprint

    if not cfg.generation.cache:
        return OutputCache(None)
    fingerprint = model_fingerprint(*sources, extra=f"{cfg.model.dtype}:{cfg.model.trust_remote_code}")
    return OutputCache(cache_root() / "eval" / f"{fingerprint}.jsonl")


def _make_judge(cfg: EvalConfig) -> Any:
    if cfg.judge.kind == "none":
        return None
    from llmkit.eval.judge import make_judge

    j = cfg.judge
    return make_judge(j.kind, model=j.model, url=j.url, api_key_env=j.api_key_env, max_tokens=j.max_new_tokens,
                      batch_size=cfg.generation.batch_size, trust_remote_code=cfg.model.trust_remote_code)


def _answer_key(record: dict[str, Any]) -> str:
    return f"{record['category']}\t{record['id']}"


def baseline_source(path: str | None) -> str:
    """"run" for an earlier eval run's folder (its answers are read), "model" for a model folder (it answers)."""
    from llmkit.eval.report import PREDICTIONS
    from llmkit.hub.resolve import resolve_source
    from llmkit.models.finetuned import is_finetune_output

    if path and (Path(path).expanduser() / PREDICTIONS).is_file():
        return "run"
    folder = Path(resolve_source(path)) if path else None  # a model may be a Hub id
    if folder and ((folder / "config.json").is_file() or is_finetune_output(folder)):
        return "model"
    raise LlmkitError(f"judge.baseline {path} is neither an `llmkit eval` run folder (no {PREDICTIONS}) "
                      f"nor a model folder (no config.json)")


def answer_with_baseline_model(cfg: EvalConfig, items: list[EvalItem]) -> dict[str, str]:
    """The baseline model's answers to the open items, asked exactly as the evaluated model was."""
    from llmkit.eval.open_answers import answer_open_items

    section = EvalModelSection(path=cfg.judge.baseline, dtype=cfg.model.dtype,
                               trust_remote_code=cfg.model.trust_remote_code)
    model, tokenizer, sources = load_eval_model(section)
    records = answer_open_items(model, tokenizer, items, max_new_tokens=cfg.generation.max_new_tokens,
                                batch_size=cfg.generation.batch_size, cache=_output_cache(cfg, sources),
                                budgets=category_budgets(cfg)[1])
    return {_answer_key(r): r["answer"] for r in records}


def read_baseline_answers(run: str | None) -> dict[str, str]:
    """Open answers of an earlier eval run, by category and id."""
    from llmkit.eval.report import PREDICTIONS

    path = Path(run or "").expanduser() / PREDICTIONS
    answers = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("type") == "open":
            answers[_answer_key(record)] = record["answer"]
    return answers


def add_judgements(judge: Any, mode: str, records: list[dict[str, Any]], baseline: dict[str, str] | None) -> None:
    """Set record["judge"]: {"rating": 1-10 or None} (single) or {"result": win/loss/tie or None} (pairwise)."""
    from llmkit.eval.judge import judge_pairwise, judge_single, question_text

    if mode == "single":
        asked = records
        judgements = judge_single(judge, [(question_text(r["question"], r["history"]), r["answer"],
                                           r["references"][0] if r["references"] else None) for r in asked])
        for r, j in zip(asked, judgements):
            r["judge"] = {"rating": j.score, "replies": j.replies}
        return
    asked = [r for r in records if _answer_key(r) in baseline]
    if len(asked) < len(records):
        console.warn(f"{len(records) - len(asked)} open items have no answer in the baseline run: not judged")
    judgements = judge_pairwise(judge, [(question_text(r["question"], r["history"]), r["answer"],
                                         baseline[_answer_key(r)]) for r in asked])
    for r, j in zip(asked, judgements):
        r["judge"] = {"result": j.result, "baseline_answer": baseline[_answer_key(r)], "replies": j.replies}


def _warn_judge_failures(judge: Any, summary: dict[str, Any]) -> None:
    if summary["parse_failures"]:
        errors = getattr(judge, "errors", [])
        detail = f"; first request error: {errors[0]}" if errors else ""
        console.warn(f"the judge's verdict could not be read for {summary['parse_failures']} items: they are "
                     f"counted as failures and left out of the judge score{detail}")
