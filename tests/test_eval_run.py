"""`llmkit eval` end to end on tiny random models: batch-size invariance, the output cache, the report files,
adapters and merged models, the leaderboard and the CLI's contract."""

import json
import os
import subprocess
import sys

import pytest

from llmkit.config import EvalConfig, build_config
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
            for size in (1, 5)]
    one, five = by_id(runs[0]), by_id(runs[1])
    assert one.keys() == five.keys() and len(one) == 12
    for key, a in one.items():
        b = five[key]
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


def test_adapter_merged_and_finetune_output_give_the_same_scores(tiny_base, tmp_path):
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
    with_adapter = evaluate.run(config(tiny_base, tmp_path / "adapter-run", adapter=adapter, **common))
    finetune_output = evaluate.run(config(adapter, tmp_path / "output-run", **common))
    merged_run = evaluate.run(config(merged, tmp_path / "merged-run", **common))

    def logprobs(result):
        return [x for r in result["records"] if r["type"] == "choice" for x in r["loglikelihood"]["logprobs"]]

    assert logprobs(with_adapter) != pytest.approx(logprobs(base), abs=1e-3)  # the adapter is applied
    assert logprobs(finetune_output) == pytest.approx(logprobs(with_adapter), abs=1e-5)
    assert logprobs(merged_run) == pytest.approx(logprobs(with_adapter), abs=1e-4)
    assert with_adapter["results"]["adapter"] == str(adapter)


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
                           (["eval", "compare", str(tmp_path)], "not an `llmkit eval` run folder")]:
        done = llmkit(*args)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), done.stderr
        assert fragment in lines[0]
    assert not (tmp_path / "x").exists()  # bad input leaves nothing behind


def test_defaults_evaluate_the_builtin_model_on_the_sample_and_the_builtin_task(tiny_base, tmp_path, monkeypatch):
    # What `llmkit eval` runs with no arguments, with a tiny stand-in for the built-in base (built in minutes).
    from llmkit.models import builtin

    monkeypatch.setattr(builtin, "ensure_builtin_base", lambda: tiny_base)
    cfg = build_config(EvalConfig, {"output": str(tmp_path / "run"), "benchmark": {"limit": 1},
                                    "generation": {"max_new_tokens": 2}, "choice": {"max_new_tokens": 2}})
    assert cfg.benchmark.sources == ["sample", "demo-task"] and cfg.model.path is None
    result = evaluate.run(cfg)
    categories = set(result["results"]["categories"])
    assert {"logic", "poetry", "dialogue"} <= categories
    assert any(c.startswith("demo-task/") for c in categories)
    assert result["results"]["model"] == evaluate.BUILTIN_BASE_NAME
