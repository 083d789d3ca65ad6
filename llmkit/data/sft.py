"""Instruction data: read files, detect their form, render chats, mask everything but the answers.

Accepted forms (detected from the columns):
  alpaca    instruction, input (optional), output, system (optional), history (optional [[q, a], ...])
  messages  messages: [{"role": "user"|"assistant"|"system", "content": ...}, ...]
  sharegpt  conversations (or messages): [{"from": "human"|"gpt"|"system", "value": ...}, ...]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmkit.data.packing import IGNORE_INDEX
from llmkit.errors import LlmkitError, first_line

FORMATS = ("alpaca", "messages", "sharegpt")
_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant"}


def load_records(path: str) -> Any:
    """A `datasets.Dataset` from a JSON/JSONL/CSV/Parquet file or a folder of files of one type."""
    from datasets import load_dataset

    source = Path(path).expanduser()
    if not source.exists():
        raise LlmkitError(f"data path {path} does not exist")
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in _BUILDERS) if source.is_dir() else [source]
    builders = {_BUILDERS.get(f.suffix.lower()) for f in files}
    if not files or None in builders:
        raise LlmkitError(f"data {path}: expected .json, .jsonl, .csv or .parquet file(s)")
    if len(builders) > 1:
        raise LlmkitError(f"data folder {path} mixes file types; keep one of .json/.jsonl, .csv, .parquet")
    try:
        dataset = load_dataset(builders.pop(), data_files=[str(f) for f in files], split="train")
    except Exception as e:  # datasets raises many types for unreadable files
        raise LlmkitError(f"cannot read {path}: {first_line(e)}") from e
    if len(dataset) == 0:
        raise LlmkitError(f"data {path} holds no examples")
    return dataset


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
    """One record as a list of {"role", "content"} turns."""
    if form == "alpaca":
        messages = []
        for question, answer in row.get("history") or []:
            messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        prompt = row["instruction"] or ""
        if row.get("input"):
            prompt = f"{prompt}\n\n{row['input']}" if prompt else row["input"]
        messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"] or ""}]
        system = row.get("system") or system
    else:
        turns = row.get("messages") if row.get("messages") is not None else row.get("conversations")
        if form == "messages":
            messages = [{"role": t["role"], "content": t["content"] or ""} for t in turns]
        else:
            unknown = {t["from"] for t in turns} - set(_SHAREGPT_ROLES)
            if unknown:
                raise LlmkitError(f"sharegpt turn role {sorted(unknown)[0]!r} is not one of "
                                  f"{', '.join(_SHAREGPT_ROLES)}")
            messages = [{"role": _SHAREGPT_ROLES[t["from"]], "content": t["value"] or ""} for t in turns]
    if system and not (messages and messages[0]["role"] == "system"):
        messages.insert(0, {"role": "system", "content": system})
    return messages


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
