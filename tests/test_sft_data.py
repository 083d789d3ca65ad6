import json

import pytest

from llmkit.data.packing import IGNORE_INDEX
from llmkit.data.sft import detect_format, load_records, to_messages, tokenize_chat, tokenize_dataset
from llmkit.errors import LlmkitError

ALPACA = [{"instruction": "把3写成中文数字。", "input": "", "output": "三"},
          {"instruction": "Translate", "input": "cat", "output": "猫"}]
MESSAGES = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "你好"},
                          {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}]
SHAREGPT = [{"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "hi"},
                               {"from": "gpt", "value": "hello"}]}]


def _write(path, rows, kind):
    if kind == "jsonl":
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    elif kind == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    elif kind == "csv":
        import pandas as pd

        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        import pandas as pd

        pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv", "parquet"])
def test_alpaca_from_every_file_type(tmp_path, kind):
    records = load_records(str(_write(tmp_path / f"d.{kind}", ALPACA, kind)))
    form = detect_format(records.column_names, records[0])
    assert form == "alpaca"
    messages = to_messages(records[1], form)
    assert messages == [{"role": "user", "content": "Translate\n\ncat"}, {"role": "assistant", "content": "猫"}]


def test_messages_and_sharegpt_are_detected(tmp_path):
    records = load_records(str(_write(tmp_path / "m.jsonl", MESSAGES, "jsonl")))
    assert detect_format(records.column_names, records[0]) == "messages"
    records = load_records(str(_write(tmp_path / "s.json", SHAREGPT, "json")))
    form = detect_format(records.column_names, records[0])
    assert form == "sharegpt"
    assert [m["role"] for m in to_messages(records[0], form)] == ["system", "user", "assistant"]


def test_unknown_form_names_columns_and_accepted_forms():
    with pytest.raises(LlmkitError) as err:
        detect_format(["question", "reply"], {"question": "q", "reply": "r"})
    assert "question, reply" in str(err.value) and "alpaca" in str(err.value) and "sharegpt" in str(err.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(LlmkitError, match="does not exist"):
        load_records(str(tmp_path / "nope.jsonl"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(LlmkitError):
        load_records(str(empty))
    with pytest.raises(LlmkitError, match="expected .json"):
        load_records(str(_write(tmp_path / "d.txt", ALPACA, "jsonl")))


def test_only_answer_tokens_are_learned(tiny_tokenizer):
    messages = MESSAGES[0]["messages"]
    chat = tokenize_chat(tiny_tokenizer, messages, max_length=512)
    # Exactly the tokens of each answer and the turn-closing <|im_end|> (plus its newline) carry labels.
    expected = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(tiny_tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True))
        end = len(tiny_tokenizer.apply_chat_template(messages[:i + 1], tokenize=False))
        expected.append(tiny_tokenizer.apply_chat_template(messages[:i + 1], tokenize=False)[start:end])
    learned, current = [], []
    for token, label in zip(chat.input_ids, chat.labels):
        if label == IGNORE_INDEX:
            if current:
                learned.append(tiny_tokenizer.decode(current))
                current = []
        else:
            assert label == token
            current.append(token)
    if current:
        learned.append(tiny_tokenizer.decode(current))
    assert learned == expected == ["你好<|im_end|>\n", "4<|im_end|>\n"]
    prompt_len = len(tiny_tokenizer(tiny_tokenizer.apply_chat_template(
        messages[:1], tokenize=False, add_generation_prompt=True), add_special_tokens=False)["input_ids"])
    assert chat.labels[:prompt_len] == [IGNORE_INDEX] * prompt_len
    assert chat.labels[prompt_len] != IGNORE_INDEX


def test_truncation_is_counted_and_answerless_examples_dropped(tiny_tokenizer):
    long = [{"role": "user", "content": "x " * 10}, {"role": "assistant", "content": "很长的回答 " * 50}]
    answer_cut_off = [{"role": "user", "content": "问题 " * 100}, {"role": "assistant", "content": "答"}]
    short = MESSAGES[0]["messages"]
    limit = len(tokenize_chat(tiny_tokenizer, short, 10_000).input_ids)  # the short chat just fits
    assert len(tokenize_chat(tiny_tokenizer, long, 10_000).input_ids) > limit
    dataset, stats = tokenize_dataset(tiny_tokenizer, [long, answer_cut_off, short], limit)
    assert stats == {"examples": 3, "truncated": 1, "dropped": 1}
    assert sorted(len(ids) for ids in dataset["input_ids"]) == [limit, limit]


def test_no_trainable_example_is_an_error(tiny_tokenizer):
    with pytest.raises(LlmkitError, match="no example has an assistant answer"):
        tokenize_dataset(tiny_tokenizer, [[{"role": "user", "content": "only a question"}]], 64)
