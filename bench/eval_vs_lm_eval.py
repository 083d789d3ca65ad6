"""llmkit's log-likelihood scoring against lm-evaluation-harness (`lm_eval --model hf`), item by item.

The sample benchmark's choice items are written as a C-Eval folder (val/ to score, dev/ for shots). llmkit
reads it with its C-Eval loader and scores it; lm_eval scores the same CSVs through a local task YAML with
C-Eval's own configuration (description, doc_to_text, first_n shots), once over the letters " A"... and once
over the option texts. The table compares every item's log-likelihoods, and lm-eval's three accuracies (acc,
acc_norm: log-likelihood per character of the choice, acc_bytes: per UTF-8 byte) item by item and overall,
taken from lm_eval's own per-sample results.

    python bench/eval_vs_lm_eval.py [--model PATH] [--shots 0 5]     # needs: pip install "lm-eval[hf]"

Default model: llmkit's built-in base (built once and cached). Skips with a message when lm_eval is missing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

SUBJECT = "sample"
DESCRIPTION = f"以下是中国关于{SUBJECT}考试的单项选择题，请选出其中的正确答案。\n\n"
DOC_TO_TEXT = "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n答案："
METRICS = ("acc", "acc_norm", "acc_bytes")


def write_ceval_folder(root: Path) -> int:
    """The sample's four-option choice items as val/sample_val.csv, its shots as dev/sample_dev.csv."""
    from llmkit.eval.formats import SAMPLE_BENCHMARK, load_llmkit

    bench = load_llmkit(SAMPLE_BENCHMARK, "test")
    four = [i for i in bench.items if i.type == "choice" and len(i.options) == 4]
    shots = [s for group in bench.shots.values() for s in group if len(s.options) == 4]
    header = ["id", "question", "A", "B", "C", "D", "answer", "explanation"]
    for split, items in (("val", four), ("dev", shots)):
        (root / split).mkdir(parents=True)
        with (root / split / f"{SUBJECT}_{split}.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows([n, i.question, *i.options, i.answer, ""] for n, i in enumerate(items))
    return len(four)


def write_tasks(root: Path, tasks_dir: Path) -> None:
    common = {"dataset_path": "csv",
              "dataset_kwargs": {"data_files": {"val": str(root / "val" / f"{SUBJECT}_val.csv"),
                                                "dev": str(root / "dev" / f"{SUBJECT}_dev.csv")}},
              "validation_split": "val", "fewshot_split": "dev", "fewshot_config": {"sampler": "first_n"},
              "output_type": "multiple_choice", "description": DESCRIPTION, "doc_to_text": DOC_TO_TEXT,
              "doc_to_target": "{{['A', 'B', 'C', 'D'].index(answer)}}",
              "metric_list": [{"metric": metric} for metric in METRICS]}
    tasks_dir.mkdir()
    for name, choices in (("llmkit_letters", ["A", "B", "C", "D"]), ("llmkit_options", "{{[A, B, C, D]}}")):
        (tasks_dir / f"{name}.yaml").write_text(
            yaml.safe_dump({"task": name, **common, "doc_to_choice": choices}, allow_unicode=True), encoding="utf-8")


def run_lm_eval(model: str, tasks_dir: Path, shots: int, out: Path) -> dict[str, list[dict]]:
    """Per task, lm_eval's logged samples in doc order: log-likelihoods ("resps") and per-item metrics."""
    command = ["lm_eval", "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
               "--tasks", "llmkit_letters,llmkit_options", "--include_path", str(tasks_dir), "--num_fewshot",
               str(shots), "--batch_size", "4", "--device", "cpu", "--log_samples", "--output_path", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"lm_eval failed:\n{done.stderr[-3000:]}")
    found = {}
    for task in ("llmkit_letters", "llmkit_options"):
        [samples] = list(out.rglob(f"samples_{task}_*.jsonl"))
        found[task] = sorted((json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines()),
                             key=lambda r: r["doc_id"])
    return found


def run_llmkit(model_path: str, root: Path, shots: int) -> list[dict]:
    from llmkit.config import ChoiceSection
    from llmkit.eval.choice import score_choice_items
    from llmkit.eval.formats import FORMATS
    from llmkit.eval.output_cache import OutputCache
    from llmkit.models.loading import load_causal_lm

    bench = FORMATS["ceval"].load(root, "val")
    model, tokenizer = load_causal_lm(model_path, dtype="float32")
    cfg = ChoiceSection(methods=["loglikelihood"], primary="loglikelihood", shots=shots)
    return score_choice_items(model, tokenizer, bench.items, bench.shots, cfg, batch_size=8, cache=OutputCache(None))


def compare(records: list[dict], samples: list[dict], key: str) -> list[list[str]]:
    """One table row per metric: items, max |difference| of log-likelihoods, items where llmkit's and lm_eval's
    verdicts agree, and both accuracies."""
    theirs_ll = [[float(resp[0][0]) for resp in sample["resps"]] for sample in samples]
    diff = max(abs(a - b) for r, h in zip(records, theirs_ll) for a, b in zip(r[key]["logprobs"], h))
    rows = []
    for metric in METRICS:
        mine = [bool(r[key][metric]) for r in records]
        theirs = [bool(sample[metric]) for sample in samples]
        same = sum(a == b for a, b in zip(mine, theirs))
        rows.append([metric, str(len(records)), f"{diff:.2e}", f"{same}/{len(records)}",
                     f"{100 * sum(mine) / len(mine):.1f}", f"{100 * sum(theirs) / len(theirs):.1f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder (default: llmkit's built-in base)")
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 5])
    args = parser.parse_args()
    if shutil.which("lm_eval") is None:
        print('lm_eval is not installed: pip install "lm-eval[hf]" to run this comparison')
        return
    from llmkit.console import table
    from llmkit.models.builtin import ensure_builtin_base

    model = args.model or str(ensure_builtin_base())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ceval"
        write_ceval_folder(root)
        write_tasks(root, Path(tmp) / "tasks")
        for shots in args.shots:
            records = run_llmkit(model, root, shots)
            harness = run_lm_eval(model, Path(tmp) / "tasks", shots, Path(tmp) / f"out{shots}")
            for continuations, task, key in (("letters ' A'..' D'", "llmkit_letters", "loglikelihood"),
                                             ("option texts", "llmkit_options", "loglikelihood_option")):
                rows += [[f"{shots}-shot", continuations, *row] for row in compare(records, harness[task], key)]
    print(f"model: {model}")
    print(table(["shots", "continuations", "metric", "items", "max |Δ log-lik|", "same verdict", "llmkit %",
                 "lm-eval %"], rows))


if __name__ == "__main__":
    main()
