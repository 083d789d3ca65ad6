"""Benchmark files people have, read into llmkit's items: llmkit JSONL, C-Eval, CMMLU, MMLU, CLUE classification.

One loader per format, in one table (`FORMATS`). Rows are read with the standard library rather than
`datasets`, because a bad row must be reported with its file and line and the rest still read; `datasets`
fails the whole file on one bad row and forgets line numbers.

Layouts (as the datasets ship them):
- C-Eval: `{split}/{subject}_{split}.csv`, header `id,question,A,B,C,D,answer,explanation` (test answers empty)
- CMMLU:  `{split}/{subject}.csv`, header `,Question,A,B,C,D,Answer`
- MMLU:   `{split}/{subject}_{split}.csv`, no header: question, A, B, C, D, answer
- CLUE:   `{split}.json`, one JSON object a line (AFQMC, TNEWS, CSL)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmkit.errors import LlmkitError
from llmkit.eval.items import LETTERS, Benchmark, EvalItem, RowNote
from llmkit.eval.subjects import MAPPING_FILE, subject_names

SAMPLE_BENCHMARK = Path(__file__).resolve().parent / "benchmarks" / "sample"
OPEN_METRICS = ("exact_match", "numeric_match", "rouge_l", "bleu")


class BadRow(ValueError):
    """A row that does not fit its format; the message says why."""


@dataclass(frozen=True)
class Format:
    name: str
    load: Callable[[Path, str], Benchmark]
    default_split: str
    help: str


# ----------------------------------------------------------------------------------------------
# llmkit's own JSONL


def read_jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, row or None, why not) for every non-blank line."""
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                yield number, None, f"not valid JSON ({e.msg})"
                continue
            yield (number, row, "") if isinstance(row, dict) else (number, None, "not a JSON object")


def llmkit_item(row: dict[str, Any], source: str) -> EvalItem:
    """An item from llmkit's JSONL form (see README, "Item format")."""
    for key in ("question", "category"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise BadRow(f"'{key}' is missing or empty")
    kind = row.get("type", "choice" if row.get("options") else "open")
    history = row.get("history") or []
    if not isinstance(history, list) or any(not isinstance(t, dict) or {"role", "content"} - set(t) for t in history):
        raise BadRow("'history' must be a list of {role, content} turns")
    common = {"id": str(row.get("id", source)), "category": row["category"], "question": row["question"],
              "history": history, "source": source}
    if kind == "choice":
        options = row.get("options")
        if not isinstance(options, list) or not 2 <= len(options) <= len(LETTERS) or not all(
                isinstance(o, str) for o in options):
            raise BadRow("a choice item needs 'options': a list of 2 to 26 strings")
        answer = str(row.get("answer", "")).strip().upper()
        if answer not in list(LETTERS[:len(options)]):  # a list: '' is in every string
            raise BadRow(f"'answer' must be one of {', '.join(LETTERS[:len(options)])}, got {row.get('answer')!r}")
        return EvalItem(type="choice", options=options, answer=answer, **common)
    if kind != "open":
        raise BadRow(f"'type' must be choice or open, got {kind!r}")
    references = row.get("references", row.get("reference", []))
    references = [references] if isinstance(references, str) else references
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise BadRow("'references' must be a string or a list of strings")
    metric = row.get("metric", "rouge_l")
    if metric not in OPEN_METRICS:
        raise BadRow(f"'metric' must be one of {', '.join(OPEN_METRICS)}, got {metric!r}")
    return EvalItem(type="open", references=references, metric=metric, **common)


def load_llmkit(path: Path, split: str) -> Benchmark:
    """A .jsonl file or a folder of them. Rows with `"split": "dev"` are shots, not scored."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    bench = Benchmark()
    for file in files:
        for number, row, problem in read_jsonl_rows(file):
            source = f"{file}:{number}"
            try:
                if row is None:
                    raise BadRow(problem)
                item = llmkit_item(row, source)
            except BadRow as e:
                bench.skipped.append(RowNote(str(file), number, str(e)))
                continue
            bench.warnings += empty_options(str(file), number, item)
            if row.get("split", split) == "dev":
                bench.shots.setdefault(item.category, []).append(item)
            else:
                bench.items.append(item)
    return bench


# ----------------------------------------------------------------------------------------------
# C-Eval, CMMLU, MMLU: one CSV per subject and split


@dataclass(frozen=True)
class ExamLayout:
    style: str
    file_pattern: str  # relative to the split folder; {subject} is the file's subject part
    question_column: str | None  # None: no header row, columns by position (MMLU)
    answer_column: str | None = None

    def subject(self, file: Path, split: str) -> str:
        suffix = self.file_pattern.split("{subject}")[1].format(split=split)
        return file.name.removesuffix(suffix)

    def columns(self, header: list[str] | None) -> dict[str, int]:
        """Column positions of question, A-D and answer; raises BadRow when the header lacks one."""
        if self.question_column is None:
            return {"question": 0, "A": 1, "B": 2, "C": 3, "D": 4, "answer": 5}
        header = [h.strip() for h in header or []]
        wanted = {"question": self.question_column, **{x: x for x in "ABCD"}, "answer": self.answer_column}
        missing = [name for name in wanted.values() if name not in header]
        # C-Eval's test split ships no answers: a missing answer column skips each row, not the file.
        if [m for m in missing if m != self.answer_column]:
            raise BadRow(f"header {','.join(header)} lacks {', '.join(missing)} ({self.style} layout)")
        return {key: header.index(name) for key, name in wanted.items() if name in header}


CEVAL = ExamLayout("ceval", "{subject}_{split}.csv", "question", "answer")
CMMLU = ExamLayout("cmmlu", "{subject}.csv", "Question", "Answer")
MMLU = ExamLayout("mmlu", "{subject}_{split}.csv", None)


def load_exam(layout: ExamLayout, root: Path, split: str) -> Benchmark:
    """Items of `split` from every subject file, with the subject's dev rows as its shots."""
    pattern = layout.file_pattern.format(subject="*", split=split)
    files = sorted((root / split).glob(pattern))
    if not files:
        raise LlmkitError(f"{root} has no {layout.style} files {split}/{pattern}; "
                          f"point at the folder holding dev/, val/, test/ and check --split")
    bench = Benchmark()
    names = subject_names(layout.style, root)
    for file in files:
        subject = layout.subject(file, split)
        name = names.get(subject, subject.replace("_", " "))
        if names and subject not in names:
            bench.warnings.append(RowNote(str(file), 1, f"{subject} is not a {layout.style} subject and {root} has "
                                          f"no {MAPPING_FILE} naming it: the prompt calls it {name!r}"))
        bench.extend(_read_exam_csv(layout, file, split, subject, name))
        dev_file = root / "dev" / layout.file_pattern.format(subject=subject, split="dev")
        if split != "dev" and dev_file.is_file():
            dev = _read_exam_csv(layout, dev_file, "dev", subject, name)
            bench.shots[f"{layout.style}/{subject}"] = dev.items
            bench.skipped += dev.skipped
            bench.warnings += dev.warnings
    return bench


def _read_exam_csv(layout: ExamLayout, file: Path, split: str, subject: str, subject_name: str) -> Benchmark:
    """The file's rows as items; rows that cannot be scored are skipped, rows with an empty option warned about."""
    bench = Benchmark()
    with file.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None) if layout.question_column else None
        try:
            columns = layout.columns(header)
        except BadRow as e:
            bench.skipped.append(RowNote(str(file), 1, f"{e}; skipped the file"))
            return bench
        width = len(header) if header else len(columns)
        previous = reader.line_num
        for cells in reader:
            line, previous = previous + 1, reader.line_num  # a quoted cell may span lines: report the first
            if not any(c.strip() for c in cells):
                continue
            try:
                answer = _exam_answer(layout, cells, columns, width, split)
            except BadRow as e:
                bench.skipped.append(RowNote(str(file), line, str(e)))
                continue
            item = EvalItem(id=f"{subject}:{line}", category=f"{layout.style}/{subject}", type="choice",
                            question=cells[columns["question"]], options=[cells[columns[x]] for x in "ABCD"],
                            answer=answer, prompt_style=layout.style, subject=subject_name, source=f"{file}:{line}")
            bench.items.append(item)
            bench.warnings += empty_options(str(file), line, item)
    return bench


def _exam_answer(layout: ExamLayout, cells: list[str], columns: dict[str, int], width: int, split: str) -> str:
    """The row's answer letter; BadRow says why the row cannot be scored."""
    if len(cells) != width:
        # Cells shift when one is missing or an unquoted comma splits one: the letter in the answer column
        # would be another cell's, so the row is refused whole.
        lacking = "is missing" if len(cells) < width else "too many (an unquoted comma?)"
        raise BadRow(f"{len(cells)} columns where the header has {width}: a cell {lacking}")
    unpublished = f" ({layout.style}'s test answers are unpublished; use --split val)" \
        if layout.style == "ceval" and split == "test" else ""
    if "answer" not in columns:
        raise BadRow(f"the file has no {layout.answer_column} column{unpublished}")
    answer = cells[columns["answer"]].strip().upper()
    if not answer:
        raise BadRow(f"the {layout.answer_column} cell is empty{unpublished}")
    if answer not in list(LETTERS[:4]):
        raise BadRow(f"answer {answer!r} is not A-D")
    return answer


def empty_options(file: str, line: int, item: EvalItem) -> list[RowNote]:
    """A warning per empty option: the item is scored with it blank (as lm-evaluation-harness scores it), which
    the file's author may not have meant."""
    return [RowNote(file, line, f"option {letter} is empty; the item is scored with it blank")
            for letter, option in zip(item.letters, item.options) if not option.strip()]


# ----------------------------------------------------------------------------------------------
# CLUE classification (JSON lines): each task becomes a choice question over its label names


@dataclass(frozen=True)
class ClueTask:
    name: str
    key: str  # a column only this task has, for detection
    labels: dict[str, str]  # label value in the file -> option text
    question: Callable[[dict[str, Any]], str]


TNEWS_LABELS = {"100": "故事", "101": "文化", "102": "娱乐", "103": "体育", "104": "财经", "106": "房产",
                "107": "汽车", "108": "教育", "109": "科技", "110": "军事", "112": "旅游", "113": "国际",
                "114": "证券", "115": "农业", "116": "电竞"}
CLUE_TASKS = {
    "afqmc": ClueTask("afqmc", "sentence1", {"0": "不同", "1": "相同"},
                      lambda r: f"下面两句话的意思相同吗？\n句子一：{r['sentence1']}\n句子二：{r['sentence2']}"),
    "tnews": ClueTask("tnews", "label_desc", TNEWS_LABELS,
                      lambda r: f"这条新闻标题属于哪一类？\n标题：{r['sentence']}"),
    "csl": ClueTask("csl", "abst", {"0": "否", "1": "是"},
                    lambda r: f"下列关键词是否都是这篇论文摘要的关键词？\n摘要：{r['abst']}\n"
                              f"关键词：{'，'.join(r['keyword'])}"),
}


def load_clue(task: ClueTask, path: Path, split: str) -> Benchmark:
    """`{split}.json` (or the file itself); the train split gives the shots."""
    file = path / f"{split}.json" if path.is_dir() else path
    if not file.is_file():
        raise LlmkitError(f"{file} does not exist; CLUE folders hold train.json, dev.json, test.json")
    bench = Benchmark()
    options = list(task.labels.values())
    category = f"clue/{task.name}"
    for number, row, problem in read_jsonl_rows(file):
        try:
            if row is None:
                raise BadRow(problem)
            label = str(row.get("label", ""))
            if label not in task.labels:
                raise BadRow(f"label {row.get('label')!r} is not one of {', '.join(task.labels)}"
                             + (" (CLUE's test labels are unpublished; use the dev split)" if not label else ""))
            question = task.question(row)
        except (BadRow, KeyError, TypeError) as e:
            reason = f"missing column {e}" if isinstance(e, KeyError) else str(e)
            bench.skipped.append(RowNote(str(file), number, reason))
            continue
        bench.items.append(EvalItem(id=str(row.get("id", number)), category=category, type="choice",
                                    question=question, options=options,
                                    answer=LETTERS[list(task.labels).index(label)], source=f"{file}:{number}"))
    shots_file = file.with_name("train.json")
    if path.is_dir() and split != "train" and shots_file.is_file():
        bench.shots[category] = load_clue(task, shots_file, "train").items
    return bench


# ----------------------------------------------------------------------------------------------
# The table, detection and the built-in sources


FORMATS: dict[str, Format] = {
    "llmkit": Format("llmkit", load_llmkit, "test", "llmkit's JSONL items (a file or a folder of .jsonl)"),
    "ceval": Format("ceval", lambda p, s: load_exam(CEVAL, p, s), "val", "C-Eval folder (dev/ val/ test/)"),
    "cmmlu": Format("cmmlu", lambda p, s: load_exam(CMMLU, p, s), "test", "CMMLU folder (dev/ test/)"),
    "mmlu": Format("mmlu", lambda p, s: load_exam(MMLU, p, s), "test", "MMLU folder (dev/ val/ test/), no header"),
    **{name: Format(name, lambda p, s, t=task: load_clue(t, p, s), "dev", f"CLUE {name.upper()} JSON lines")
       for name, task in CLUE_TASKS.items()},
}


def detect_format(path: Path) -> str:
    """The format of a file or folder, from its layout and its first row."""
    if path.is_dir():
        csvs = sorted(path.glob("*/*.csv"))
        if csvs:
            first = csvs[0].read_text(encoding="utf-8-sig").split("\n", 1)[0].strip().split(",")
            if first[:2] == ["id", "question"]:
                return "ceval"
            return "cmmlu" if first[:2] == ["", "Question"] else "mmlu"
        jsonl = sorted(path.glob("*.jsonl"))
        if jsonl:
            return "llmkit"
        json_files = sorted(path.glob("*.json"))
        if not json_files:
            raise LlmkitError(f"{path} holds no .csv, .jsonl or .json benchmark files")
        path = next((f for f in json_files if f.name == "dev.json"), json_files[0])
    row = next((r for _, r, _ in read_jsonl_rows(path) if r is not None), None)
    if row is None:
        raise LlmkitError(f"{path} has no JSON rows to read")
    for name, task in CLUE_TASKS.items():
        if task.key in row:
            return name
    if "question" in row:
        return "llmkit"
    raise LlmkitError(f"cannot tell the format of {path} from its columns {sorted(row)}; name it as FORMAT=PATH, "
                      f"FORMAT one of: {'; '.join(f'{f.name} ({f.help})' for f in FORMATS.values())}")


def load_source(source: str, split: str = "auto", *, demo_task_items: int = 0) -> Benchmark:
    """`sample`, `demo-task`, `PATH` or `FORMAT=PATH` (format: one of FORMATS)."""
    if source == "sample":
        return load_llmkit(SAMPLE_BENCHMARK, "test")
    if source == "demo-task":
        return demo_task_benchmark(demo_task_items)
    name, sep, raw = source.partition("=")
    if not sep or name not in FORMATS:
        name, raw = "", source
    path = Path(raw).expanduser()
    if not path.exists():
        raise LlmkitError(f"benchmark {raw} does not exist (give a file or folder, `sample` or `demo-task`)")
    name = name or detect_format(path)
    form = FORMATS[name]
    return form.load(path, form.default_split if split == "auto" else split)


def demo_task_benchmark(n: int) -> Benchmark:
    """llmkit's built-in task (the held-out split `llmkit finetune` scores) as open items scored by exact match;
    n=0 takes all of them."""
    from llmkit.data.demo_tasks import demo_task_split

    items = [EvalItem(id=f"demo-{i}", category=f"demo-task/{e['kind']}", type="open",
                      question=e["messages"][0]["content"], references=[e["messages"][1]["content"]],
                      metric="exact_match", source="demo-task")
             for i, e in enumerate(demo_task_split("test", n, seed=0))]
    return Benchmark(items=items)
