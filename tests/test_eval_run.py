"""`llmkit eval` end to end on tiny random models: batch-size invariance, the output cache, the report files and
their one headline, shots and token budgets, row warnings, adapters and merged models, the leaderboard and
the CLI's contract."""

import json
import os
import subprocess
import sys

import pytest

from llmkit.config import build_config
from llmkit.config.eval import EvalConfig
from llmkit.errors import LlmkitError
from llmkit.workflows import evaluate


def config(model, output, *, sources=("sample",), categories=("logic", "knowledge", "dialogue"), limit=4,
           adapter=None, **sections):
    return build_config(EvalConfig, {
        "model": {"path": str(model) if model else None, "adapter": str(adapter) if adapter else None},
        "output": str(output), "benchmark": {"sources": list(sources), "categories": list(categories), "limit": limit},
        "generation": {"max_new_tokens": 6, **sections.pop("generation", {})},
        "choice": {"max_new_tokens": 6, **sections.pop("choice", {})}, **sections})


def by_id(result):
    return {r["id"]: r for r in result["records"]}


def test_results_do_not_change_with_batch_size(tiny_base, tmp_path):
    runs = [evaluate.run(config(tiny_base, tmp_path / f"b{size}", choice={"shots": 2},
                                generation={"batch_size": size, "cache": False}))
            for size in (1, 8)]
    one, eight = by_id(runs[0]), by_id(runs[1])
    assert one.keys() == eight.keys() and len(one) == 12
    assert {r["shots"] for r in one.values() if r["type"] == "choice"} == {2}  # what the prompts had
    assert runs[0]["results"]["choice_shots"] == 2
    for key, a in one.items():
        b = eight[key]
        if a["type"] == "choice":
            for method in ("loglikelihood", "loglikelihood_option"):
                assert a[method]["predicted"] == b[method]["predicted"]
                assert a[method]["logprobs"] == pytest.approx(b[method]["logprobs"], abs=1e-5)
            assert a["generate"] == b["generate"]
        else:
            assert a["answer"] == b["answer"]
    assert runs[0]["results"] == runs[1]["results"]


def test_report_files_and_a_rerun_that_only_rescores(tiny_base, tmp_path):
    first = evaluate.run(config(tiny_base, tmp_path / "first"))
    out = tmp_path / "first"
    results = json.loads((out / "results.json").read_text())
    assert set(results["tracks"]) == {"choice", "open_reference"}
    assert set(results["categories"]) == {"logic", "knowledge", "dialogue"}
    expected_total = (results["tracks"]["choice"] + results["tracks"]["open_reference"]) / 2
    assert results["total"] == pytest.approx(expected_total, abs=0.01)
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 12 and all("prompt" in p for p in predictions)
    choice = next(p for p in predictions if p["type"] == "choice")
    assert {"loglikelihood", "loglikelihood_option", "generate", "correct"} <= set(choice)
    assert choice["correct"] == choice["generate"]["correct"]  # the primary method by default
    report = (out / "report.md").read_text()
    assert "| track" in report and "| logic" in report and "| overall" in report
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((out / "llmkit_run.json").read_text())
    assert record["job"] == "eval" and record["metrics"]["total"] == results["total"]
    assert record["cache"]["misses"] > 0 and record["cache"]["hits"] == 0

    # Same model and prompts, new scoring settings: every model output comes from the cache.
    again = evaluate.run(config(tiny_base, tmp_path / "again", choice={"primary": "loglikelihood"},
                                report={"choice_weight": 3.0}))
    record = json.loads((tmp_path / "again" / "llmkit_run.json").read_text())
    assert record["cache"]["misses"] == 0 and record["cache"]["hits"] == json.loads(
        (out / "llmkit_run.json").read_text())["cache"]["misses"]
    assert [r.get("answer") for r in again["records"]] == [r.get("answer") for r in first["records"]]
    tracks = again["results"]["tracks"]
    assert again["results"]["total"] == pytest.approx((3 * tracks["choice"] + tracks["open_reference"]) / 4, abs=0.01)


def test_one_headline_in_results_report_chart_and_compare(tiny_base, tmp_path, monkeypatch):
    from llmkit.eval import report
    from llmkit.eval.leaderboard import build_leaderboard

    charted = {}
    draw = report.save_bar_chart
    monkeypatch.setattr(report, "save_bar_chart", lambda scores, *a: (charted.update(scores), draw(scores, *a))[1])
    out = tmp_path / "run"
    result = evaluate.run(config(tiny_base, out, categories=("logic", "knowledge", "dialogue"), limit=6,
                                 choice={"primary": "loglikelihood"}, report={"reference_weight": 3.0}))["results"]
    results = json.loads((out / "results.json").read_text())
    tracks, total = results["tracks"], results["total"]
    assert total == pytest.approx((tracks["choice"] + 3 * tracks["open_reference"]) / 4, abs=0.01) and total > 0
    assert total == results["overall"]["score"] == result["total"] == charted["TOTAL"]
    assert {name: charted[name] for name in results["categories"]} == {
        name: c["score"] for name, c in results["categories"].items()}
    lines = (out / "report.md").read_text().splitlines()
    cell = f"{total:.1f}"
    assert f"**Total {cell}**" in lines[4]
    assert next(line for line in lines if line.startswith("| total")).split("|")[2].strip() == cell
    columns = next(line for line in lines if line.startswith("| category")).split("|")
    overall = next(line for line in lines if line.startswith("| overall")).split("|")
    assert overall[[c.strip() for c in columns].index("score")].strip() == cell
    assert build_leaderboard([out])["rows"][0]["total"] == total


def test_shots_are_never_more_than_the_dev_split_holds(tiny_base, tmp_path):
    header = "id,question,A,B,C,D,answer,explanation\n"
    (tmp_path / "ceval" / "val").mkdir(parents=True)
    (tmp_path / "ceval" / "dev").mkdir()
    val = tmp_path / "ceval" / "val" / "law_val.csv"
    val.write_text(header + "0,q1,a,b,c,d,A,\n1,q2,a,b,c,,B,\n", encoding="utf-8")
    (tmp_path / "ceval" / "dev" / "law_dev.csv").write_text(header + "0,s,a,b,c,d,C,\n", encoding="utf-8")
    common = {"sources": [str(tmp_path / "ceval")], "categories": [], "choice": {"methods": ["loglikelihood"],
                                                                                "primary": "loglikelihood"}}
    with pytest.raises(LlmkitError, match=r"choice.shots=2 asks for more solved examples than the dev split "
                                          r"holds: ceval/law has 1; use --shots 1 or fewer"):
        evaluate.run(config(tiny_base, tmp_path / "two", **{**common, "choice": {**common["choice"], "shots": 2}}))
    assert not (tmp_path / "two").exists()
    result = evaluate.run(config(tiny_base, tmp_path / "one", **{**common, "choice": {**common["choice"], "shots": 1}}))
    assert [r["shots"] for r in result["records"]] == [1, 1] and result["results"]["choice_shots"] == 1
    # The row with an empty option is scored, and the warning says where it is.
    record = json.loads((tmp_path / "one" / "llmkit_run.json").read_text())
    assert record["row_warnings"] == [f"{val}:3: option D is empty; the item is scored with it blank"]
    assert result["results"]["row_warnings"] == 1


def test_token_budget_per_category_and_answers_without_a_letter_are_counted(tiny_base, tmp_path):
    def run(name, budgets):
        cfg = config(tiny_base, tmp_path / name, categories=("logic", "knowledge"), limit=3,
                     choice={"methods": ["generate"]}, generation={"cache": False})
        cfg.choice.category_max_new_tokens = budgets
        return evaluate.run(cfg)

    short, full = by_id(run("short", ["logic=2"])), by_id(run("full", []))
    assert {r["category"]: r["generate"]["max_new_tokens"] for r in short.values() if r["type"] == "choice"} == {
        "logic": 2, "knowledge": 6}
    logic = [key for key, r in short.items() if r["category"] == "logic" and r["type"] == "choice"]
    # Greedy decoding: two tokens of an answer are the start of its six.
    assert all(full[k]["generate"]["answer"].startswith(short[k]["generate"]["answer"]) for k in logic)
    assert any(len(short[k]["generate"]["answer"]) < len(full[k]["generate"]["answer"]) for k in logic)
    assert not any(r["generate"]["answer"].endswith("\ufffd") for r in short.values() if r["type"] == "choice")

    results = json.loads((tmp_path / "full" / "results.json").read_text())
    unanswered = [r for r in full.values() if r["type"] == "choice" and r["generate"]["extracted"] is None]
    assert results["overall"]["no_answer"] == len(unanswered) == sum(results["overall"]["no_answer_reasons"].values())
    assert all(r["generate"]["no_answer"] for r in unanswered)
    assert "| no answer" in (tmp_path / "full" / "report.md").read_text()


def test_adapter_merged_and_finetune_output_give_the_same_scores(tiny_base, tmp_path, monkeypatch):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmkit.models.finetuned import FinetuneManifest

    torch.manual_seed(1)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_base),
                                LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny_base).save_pretrained(adapter)
    FinetuneManifest(method="lora", task="sft", base_model=str(tiny_base), format="adapter").write(adapter)
    merged = tmp_path / "merged"
    peft_model.merge_and_unload().save_pretrained(merged)
    AutoTokenizer.from_pretrained(tiny_base).save_pretrained(merged)

    common = {"sources": ["sample"], "categories": ["knowledge"], "limit": 3, "choice": {"methods": ["loglikelihood"],
                                                                                          "primary": "loglikelihood"}}
    base = evaluate.run(config(tiny_base, tmp_path / "base", **common))
    adapter_run = config(tiny_base, None, adapter=adapter, **common)
    adapter_run.output = None  # named by llmkit, in ./runs
    monkeypatch.chdir(tmp_path)
    with_adapter = evaluate.run(adapter_run)
    finetune_output = evaluate.run(config(adapter, tmp_path / "output-run", **common))
    merged_run = evaluate.run(config(merged, tmp_path / "merged-run", **common))

    def logprobs(result):
        return [x for r in result["records"] if r["type"] == "choice" for x in r["loglikelihood"]["logprobs"]]

    assert logprobs(with_adapter) != pytest.approx(logprobs(base), abs=1e-3)  # the adapter is applied
    assert logprobs(finetune_output) == pytest.approx(logprobs(with_adapter), abs=1e-5)
    assert logprobs(merged_run) == pytest.approx(logprobs(with_adapter), abs=1e-4)
    assert with_adapter["results"]["adapter"] == str(adapter)
    # The run is named and titled for the adapter, not only for its base.
    assert with_adapter["output"].name.startswith("eval-adapter-")
    title = f"# llmkit eval: {tiny_base} + adapter"
    assert (with_adapter["output"] / "report.md").read_text(encoding="utf-8").splitlines()[0] == title


def llmkit(*args):
    return subprocess.run([sys.executable, "-m", "llmkit", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_cli_eval_compare_and_errors(tiny_base, tmp_path):
    out = tmp_path / "cli-run"
    done = llmkit("eval", "--model", str(tiny_base), "--data", "sample", "--categories", "logic,code", "--limit",
                  "2", "--set", "generation.max_new_tokens=4", "--set", "choice.max_new_tokens=4", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "| total" in done.stdout and (out / "results.json").is_file()
    other = tmp_path / "other"
    evaluate.run(config(tiny_base, other, categories=["logic"], limit=2, choice={"primary": "loglikelihood"}))

    board = tmp_path / "board"
    done = llmkit("eval", "compare", str(out), str(other), "--output", str(board))
    assert done.returncode == 0, done.stderr
    assert "| rank" in done.stdout and "| logic" in done.stdout and "code" in done.stdout  # code: not shared
    rows = json.loads((board / "leaderboard.json").read_text())["rows"]
    assert [r["total"] for r in rows] == sorted((r["total"] for r in rows), reverse=True)
    assert (board / "leaderboard.png").is_file() and (board / "leaderboard.md").is_file()

    for args, fragment in [(["eval", "--data", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "x")],
                            "does not exist"),
                           (["eval", "--model", str(tiny_base), "--data", "sample", "--categories", "nothing",
                             "--output", str(tmp_path / "x")], "no items to evaluate"),
                           (["eval", "--model", str(tiny_base), "--data", "sample", "--categories", "logic",
                             "--shots", "3", "--output", str(tmp_path / "x")], "logic has 2"),
                           (["eval", "--model", str(tiny_base), "--choice-scoring", "letters", "--output",
                             str(tmp_path / "x")], "--choice-scoring letters is not one of all, loglik"),
                           (["eval", "compare", str(tmp_path)], "not an `llmkit eval` run folder")]:
        done = llmkit(*args)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), done.stderr
        assert fragment in lines[0]
    assert not (tmp_path / "x").exists()  # bad input leaves nothing behind


def test_defaults_evaluate_the_builtin_model_on_the_sample_and_the_builtin_task(tiny_base, tmp_path, monkeypatch):
    # What `llmkit eval` runs with no arguments, with a tiny stand-in for the built-in base (built in minutes).
    from llmkit.workflows import builtin_base as builtin

    monkeypatch.setattr(builtin, "ensure_builtin_base", lambda: tiny_base)
    cfg = build_config(EvalConfig, {"output": str(tmp_path / "run"), "benchmark": {"limit": 1},
                                    "generation": {"max_new_tokens": 2}, "choice": {"max_new_tokens": 2}})
    assert cfg.benchmark.sources == ["sample", "demo-task"] and cfg.model.path is None
    result = evaluate.run(cfg)
    categories = set(result["results"]["categories"])
    assert {"logic", "poetry", "dialogue"} <= categories
    assert any(c.startswith("demo-task/") for c in categories)
    assert result["results"]["model"] == evaluate.BUILTIN_BASE_NAME


def test_types_keep_only_the_asked_item_types():
    from llmkit.config.eval import BenchmarkSection

    everything = evaluate.load_benchmark(BenchmarkSection(sources=["sample"]))
    choice = evaluate.load_benchmark(BenchmarkSection(sources=["sample"], types=["choice"]))
    assert {i.type for i in everything.items} == {"choice", "open"}
    assert [i.id for i in choice.items] == [i.id for i in everything.items if i.type == "choice"]
    with pytest.raises(LlmkitError, match="no items to evaluate in categories dialogue of type choice"):
        evaluate.load_benchmark(BenchmarkSection(sources=["sample"], categories=["dialogue"], types=["choice"]))
