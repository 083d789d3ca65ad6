"""Instruction data: read files, detect their form, render chats, mask everything but the answers.

Accepted forms (detected from the columns):
  alpaca    instruction, input (optional), output, system (optional), history (optional [[q, a], ...])
  messages  messages: [{"role": "user"|"assistant"|"system", "content": ...}, ...]
  sharegpt  conversations (or messages): [{"from": "human"|"gpt"|"system", "value": ...}, ...]

A file that cannot be read as a whole (not UTF-8, empty, broken JSON) stops the run with the file,
the line and the fix. A row that does not fit the file's form is refused with a warning, never repaired.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from llmkit import console
from llmkit.data.packing import IGNORE_INDEX
from llmkit.errors import LlmkitError, first_line

T = TypeVar("T")  # what a row becomes

FORMATS = ("alpaca", "messages", "sharegpt")
_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
_ROLES = ("user", "assistant", "system")
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant"}
# UTF-32 first: its little-endian mark begins with UTF-16's.
_BOMS = (("UTF-32", (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)), ("UTF-16", (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)))
_JSON_KINDS = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}
_SHOWN_REFUSALS = 5


class BadRow(LlmkitError):
    """A record that does not fit its form as it stands; the message says why. Readers skip such rows."""


def load_records(path: str) -> Any:
    """A `datasets.Dataset` from a JSON/JSONL/CSV/Parquet file or a folder of files of one type."""
    return _load(path)[0]


def read_conversations(path: str, form: str = "auto") -> tuple[list[list[dict[str, str]]], list[dict[str, Any]]]:
    """The conversations in a data file or folder, and the rows refused (see `read_rows`)."""

    def converter(records: Any) -> Callable[[dict[str, Any]], list[dict[str, str]]]:
        own = detect_format(records.column_names, records[0]) if form == "auto" else form
        return lambda row: to_messages(row, own)

    return read_rows(path, converter, csv_as_text=True)


def read_rows(path: str, converter: Callable[[Any], Callable[[dict[str, Any]], T]],
              csv_as_text: bool = False) -> tuple[list[T], list[dict[str, Any]]]:
    """Every row of a data file or folder converted, and the rows refused as {"file", "line", "reason"}.

    `converter(records)` sees the whole file first (to check its columns: a whole-file problem is an
    LlmkitError) and returns the function that converts one row, raising BadRow for a row that does not fit.
    "line" is the line in the file (JSON Lines, CSV) or "record N" / "row N" (a JSON array, Parquet).
    The first refusals are warned about; when every row is refused, the first reason stops the run.
    """
    records, files = _load(path, csv_as_text=csv_as_text)
    convert = converter(records)
    rows, refused = [], []
    for index, row in enumerate(records):
        try:
            rows.append(convert(row))
        except BadRow as e:
            refused.append((index, str(e)))
    if refused:
        places = [(str(file), place) for file in files for place in _places(file)]
        if len(places) != len(records):  # the file reads differently from how datasets read it
            places = [(path, f"record {index + 1}") for index in range(len(records))]
        refused = [{"file": places[i][0], "line": places[i][1], "reason": reason} for i, reason in refused]
    if not rows:
        raise LlmkitError(f"data {path}: no row is usable ({len(refused)} refused); the first, {_describe(refused[0])}")
    for row in refused[:_SHOWN_REFUSALS]:
        console.warn(f"data {_describe(row)}; row skipped")
    if len(refused) > _SHOWN_REFUSALS:
        console.warn(f"... and {len(refused) - _SHOWN_REFUSALS} more rows skipped (listed in llmkit_run.json)")
    return rows, refused


def _describe(row: dict[str, Any]) -> str:
    where = f"line {row['line']}" if isinstance(row["line"], int) else row["line"]
    return f"{row['file']} {where}: {row['reason']}"


@contextmanager
def _datasets_quiet() -> Iterator[None]:
    """No progress bar or log lines from datasets while it reads: on a bad file it logs the parser's error
    before raising, and llmkit says the same once, with the line, in its own error."""
    from datasets.utils import logging as datasets_logging

    verbosity, bars = datasets_logging.get_verbosity(), datasets_logging.is_progress_bar_enabled()
    datasets_logging.set_verbosity(datasets_logging.CRITICAL)
    datasets_logging.disable_progress_bar()
    try:
        yield
    finally:
        datasets_logging.set_verbosity(verbosity)
        if bars:
            datasets_logging.enable_progress_bar()


def _load(path: str, csv_as_text: bool = False) -> tuple[Any, list[Path]]:
    """The records of `path` and the files they were read from, in order."""
    from datasets import Features, Value, load_dataset

    source = Path(path).expanduser()
    if not source.exists():
        raise LlmkitError(f"data path {path} does not exist")
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in _BUILDERS) if source.is_dir() else [source]
    builders = {_BUILDERS.get(f.suffix.lower()) for f in files}
    if not files or None in builders:
        raise LlmkitError(f"data {path}: expected .json, .jsonl, .csv or .parquet file(s)")
    if len(builders) > 1:
        raise LlmkitError(f"data folder {path} mixes file types; keep one of .json/.jsonl, .csv, .parquet")
    builder = builders.pop()
    # Checked before datasets reads, not after it fails: pyarrow reads Latin-1 JSON without complaint and
    # fails only later, when a row is decoded. This reads each text file once more.
    for file in files if builder != "parquet" else []:
        _check_text(file)
    kwargs = {}
    try:
        if builder == "csv" and csv_as_text:
            # A CSV cell is text; pandas would read a column of digits as numbers (and "05" as 5).
            with files[0].open(encoding="utf-8-sig", newline="") as f:
                header = next(r for r in csv.reader(f) if r)
            kwargs["features"] = Features({name: Value("string") for name in header})
        with _datasets_quiet():
            dataset = load_dataset(builder, data_files=[str(f) for f in files], split="train", **kwargs)
    except Exception as e:  # datasets raises many types for unreadable files
        for file in files if builder == "json" else []:
            problem = _json_problem(file)
            if problem:
                raise LlmkitError(f"cannot read {file}: {problem}; fix or remove that line") from e
        cause = e
        while cause.__cause__ is not None:  # "An error occurred while generating the dataset" hides the reason
            cause = cause.__cause__
        if "corresponds to no data" in str(cause):  # an empty JSON array, a CSV with only its header
            raise LlmkitError(f"data {path} holds no examples") from e
        raise LlmkitError(f"cannot read {path}: {first_line(cause)}") from e
    if len(dataset) == 0:
        raise LlmkitError(f"data {path} holds no examples")
    return dataset, files


def _check_text(file: Path) -> None:
    """Stop on a file that is not UTF-8 text or holds nothing but blank lines."""
    resave = "re-save the file as UTF-8"
    with file.open("rb") as f:
        head = f.read(4)
        for name, marks in _BOMS:
            if head.startswith(marks):
                raise LlmkitError(f"data {file} is {name} text (it starts with a {name} byte-order mark); "
                                  f"UTF-8 is expected: {resave}")
        f.seek(0)
        offset, blank = 0, True
        for number, raw in enumerate(f, 1):  # a newline byte never falls inside a UTF-8 character
            if b"\x00" in raw:
                raise LlmkitError(f"data {file} line {number} (byte {offset + raw.index(0)}): NUL bytes, as in UTF-16 "
                                  f"or UTF-32 text without a byte-order mark; UTF-8 is expected: {resave}")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise LlmkitError(f"data {file} line {number} (byte {offset + e.start}): 0x{raw[e.start]:02x} is not "
                                  f"UTF-8 (Latin-1 or GBK text?); UTF-8 is expected: {resave}") from None
            blank = blank and not raw.strip(codecs.BOM_UTF8 + b" \t\r\n")
            offset += len(raw)
    if blank:
        raise LlmkitError(f"data {file} is empty" + (" (only blank lines)" if offset else "") + "; it needs examples")


def _json_problem(file: Path) -> str | None:
    """Where and why a JSON or JSON Lines file does not parse ("line 7: Expecting ',' delimiter (column 12)")."""
    text = file.read_text(encoding="utf-8-sig")
    try:
        json.loads(text)
        return None  # one valid JSON document: datasets failed for another reason
    except json.JSONDecodeError as e:
        if text.startswith("["):  # datasets reads such a file as one array, whatever its suffix
            return _json_reason(e, e.lineno)
    for number, line in enumerate(text.split("\n"), 1):
        try:
            if line.strip():
                json.loads(line)
        except json.JSONDecodeError as e:
            return _json_reason(e, number)
    return None


def _json_reason(error: json.JSONDecodeError, line: int) -> str:
    # Some of json's reasons end in "starting at" and read on into the column.
    column = f" column {error.colno}" if error.msg.endswith(" at") else f" (column {error.colno})"
    return f"line {line}: {error.msg}{column}"


def _places(file: Path) -> list[int | str]:
    """Where each record of a file is: its line (JSON Lines, CSV) or "record N" (a JSON array), "row N" (Parquet)."""
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return [f"row {index + 1}" for index in range(pq.ParquetFile(file).metadata.num_rows)]
    if suffix == ".csv":
        with file.open(encoding="utf-8-sig", newline="") as f:
            reader, starts, line = csv.reader(f), [], 0
            for row in reader:
                if row:  # pandas skips blank lines
                    starts.append(line + 1)
                line = reader.line_num  # a quoted cell may span lines
        return starts[1:]  # after the header
    with file.open("rb") as f:
        array = f.read(4).removeprefix(codecs.BOM_UTF8).startswith(b"[")  # datasets' own test
        f.seek(0)
        if array:
            return [f"record {index + 1}" for index in range(len(json.load(f)))]
        return [number for number, raw in enumerate(f, 1) if raw.strip()]  # datasets skips blank lines


def detect_format(columns: list[str], first_row: dict[str, Any]) -> str:
    cols = set(columns)
    if {"instruction", "output"} <= cols:
        return "alpaca"
    for name in ("messages", "conversations"):
        if name in cols and isinstance(first_row.get(name), list) and first_row[name]:
            turn = first_row[name][0]
            if isinstance(turn, dict) and {"role", "content"} <= set(turn):
                return "messages"
            if isinstance(turn, dict) and {"from", "value"} <= set(turn):
                return "sharegpt"
    raise LlmkitError(
        f"cannot tell the data's form from its columns ({', '.join(columns)}); accepted: alpaca "
        f"(instruction, input, output), messages (messages: [{{role, content}}]) or sharegpt "
        f"(conversations: [{{from, value}}])")


def to_messages(row: dict[str, Any], form: str, system: str | None = None) -> list[dict[str, str]]:
    """One record as a list of {"role", "content"} turns; BadRow when it does not fit `form` as it stands."""
    own = _row_forms(row)
    if own and form not in own:
        raise BadRow(f"the row is in the {own[0]} form, not the file's {form} form")
    if form == "alpaca":
        messages = []
        history = row.get("history") or []
        if not isinstance(history, list):
            raise BadRow(f"'history' is {_kind(history)}, not a list of [question, answer] pairs")
        for number, pair in enumerate(history, 1):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise BadRow(f"'history' item {number} is not a [question, answer] pair")
            messages += [{"role": "user", "content": _text(pair[0], f"'history' item {number}'s question")},
                         {"role": "assistant", "content": _text(pair[1], f"'history' item {number}'s answer")}]
        prompt = _text(row.get("instruction"), "'instruction'")
        extra = _optional_text(row, "input")
        if extra:
            prompt = f"{prompt}\n\n{extra}" if prompt else extra
        messages += [{"role": "user", "content": prompt},
                     {"role": "assistant", "content": _text(row.get("output"), "'output'")}]
        system = _optional_text(row, "system") or system
    else:
        name = "conversations" if row.get("messages") is None and row.get("conversations") is not None else "messages"
        turns = row.get(name)
        if not (isinstance(turns, list) and turns):
            raise BadRow(f"{name!r} is {_kind(turns)}, not a list of turns")
        role_key, text_key, roles = ("role", "content", _ROLES) if form == "messages" else (
            "from", "value", tuple(_SHAREGPT_ROLES))
        messages = []
        for number, turn in enumerate(turns, 1):
            if not isinstance(turn, dict):
                raise BadRow(f"turn {number} is {_kind(turn)}, not an object")
            role = turn.get(role_key)
            if role not in roles:
                raise BadRow(f"role {role!r} is not one of {', '.join(roles)}")
            messages.append({"role": _SHAREGPT_ROLES[role] if form == "sharegpt" else role,
                             "content": _text(turn.get(text_key), f"turn {number}'s {text_key!r}")})
        if all(m["role"] != "assistant" for m in messages):
            raise BadRow("the conversation has no assistant turn")
    if system and not (messages and messages[0]["role"] == "system"):
        messages.insert(0, {"role": "system", "content": system})
    return messages


def _row_forms(row: dict[str, Any]) -> list[str]:
    """The forms that a row's own non-null fields fit. A file that mixes forms has every form's columns
    (null where a row lacks them), so a row's form shows in its values, not in the columns."""
    forms = ["alpaca"] if row.get("instruction") is not None or row.get("output") is not None else []
    for name in ("messages", "conversations"):
        turns = row.get(name)
        if isinstance(turns, list) and turns and isinstance(turns[0], dict):
            if turns[0].get("role") is not None or turns[0].get("content") is not None:
                forms.append("messages")
            if turns[0].get("from") is not None or turns[0].get("value") is not None:
                forms.append("sharegpt")
    return forms


def _text(value: Any, name: str) -> str:
    # Never "" or "None" in place of a missing field: that would train on an answer nobody wrote.
    if isinstance(value, str):
        return value
    raise BadRow(f"{name} is {_kind(value)}, not a string")


def _optional_text(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    return None if value is None else _text(value, repr(name))


def _kind(value: Any) -> str:
    return "null or missing" if value is None else _JSON_KINDS.get(type(value), type(value).__name__)


@dataclass
class TokenizedChat:
    input_ids: list[int]
    labels: list[int]
    truncated: bool


def tokenize_chat(tokenizer: Any, messages: list[dict[str, str]], max_length: int) -> TokenizedChat | None:
    """Render `messages` with the tokenizer's chat template; labels keep only the assistant answers.

    Each answer's span is found by rendering the conversation up to the turn with the generation
    prompt (start) and including the turn (end), then labelling the tokens whose characters fall in
    between. The template must render prefixes consistently, as chat templates do. Returns None when
    the conversation has no assistant turn or truncation leaves no answer token to learn from.
    """
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start_text = (tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
                      if i else "")
        end_text = tokenizer.apply_chat_template(messages[:i + 1], tokenize=False)
        if not (full.startswith(start_text) and full.startswith(end_text)):
            raise LlmkitError("the chat template renders a conversation's beginning differently from the "
                              "whole conversation, so answers cannot be located; use another template")
        spans.append((len(start_text), len(end_text)))
    if not spans:
        return None
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    labels = [IGNORE_INDEX] * len(ids)
    for index, (char_start, _) in enumerate(encoded["offset_mapping"]):
        if any(start <= char_start < end for start, end in spans):
            labels[index] = ids[index]
    truncated = len(ids) > max_length
    ids, labels = ids[:max_length], labels[:max_length]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return TokenizedChat(ids, labels, truncated)


def tokenize_dataset(tokenizer: Any, conversations: list[list[dict[str, str]]],
                     max_length: int) -> tuple[Any, dict[str, int]]:
    """Tokenise conversations into a `datasets.Dataset` (input_ids, labels) and counts of what was cut."""
    from datasets import Dataset
    from tqdm.auto import tqdm

    input_ids, labels = [], []
    stats = {"examples": len(conversations), "truncated": 0, "dropped": 0}
    for messages in tqdm(conversations, desc="tokenizing", unit="ex", leave=False):
        chat = tokenize_chat(tokenizer, messages, max_length)
        if chat is None:
            stats["dropped"] += 1
            continue
        stats["truncated"] += chat.truncated
        input_ids.append(chat.input_ids)
        labels.append(chat.labels)
    if not input_ids:
        raise LlmkitError("no example has an assistant answer left to train on "
                          f"(max_length {max_length}; {stats['dropped']} dropped)")
    return Dataset.from_dict({"input_ids": input_ids, "labels": labels}), stats
