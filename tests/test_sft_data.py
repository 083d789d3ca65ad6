import json

import pytest

from llmkit.data.packing import IGNORE_INDEX
from llmkit.data.sft import (
    detect_format,
    load_records,
    read_conversations,
    to_messages,
    tokenize_chat,
    tokenize_dataset,
)
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


def _lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _row(**fields):
    return json.dumps({"instruction": "q", "input": "", "output": "a", **fields}, ensure_ascii=False)


def test_utf16_file_is_an_error_naming_the_encodings(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ALPACA), encoding="utf-16")
    with pytest.raises(LlmkitError) as err:
        read_conversations(str(path))
    assert "UTF-16" in str(err.value) and "UTF-8" in str(err.value) and "d.jsonl" in str(err.value)


def test_undecodable_byte_is_located(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(_row().encode() + b"\n" + '{"instruction": "caf\u00e9", "output": "x"}'.encode("latin-1"))
    with pytest.raises(LlmkitError, match=r"d\.jsonl line 2 \(byte 69\): 0xe9 is not UTF-8"):
        read_conversations(str(path))


def test_row_cut_off_names_the_file_and_line(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_text(_row() + "\n\n" + _row() + '\n{"instruction": "q", "outp', encoding="utf-8")
    with pytest.raises(LlmkitError) as err:
        read_conversations(str(path))
    message = str(err.value)
    assert "cut.jsonl" in message and "line 4: Unterminated string" in message and "fix or remove that line" in message
    assert "\n" not in message


def test_json_syntax_error_names_the_parsers_reason(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[{"instruction": "q", "output": "a"},\n {"instruction": "q" "output": "a"}]', encoding="utf-8")
    with pytest.raises(LlmkitError, match=r"d\.json: line 2: Expecting ',' delimiter \(column 22\)"):
        read_conversations(str(path))


@pytest.mark.parametrize("text", ["", "\n  \n\n"])
def test_empty_file_says_empty(tmp_path, text):
    path = tmp_path / "empty.jsonl"
    path.write_text(text)
    with pytest.raises(LlmkitError, match="empty.jsonl is empty"):
        read_conversations(str(path))


def test_rows_of_another_form_are_refused_and_the_rest_kept(tmp_path, capsys):
    other = json.dumps(MESSAGES[0], ensure_ascii=False)
    path = _lines(tmp_path / "mixed.jsonl", [json.dumps(ALPACA[0], ensure_ascii=False), other,
                                             json.dumps(ALPACA[1], ensure_ascii=False), other])
    chats, refused = read_conversations(path)
    assert chats == [to_messages(ALPACA[0], "alpaca"), to_messages(ALPACA[1], "alpaca")]
    assert chats[1] == [{"role": "user", "content": "Translate\n\ncat"}, {"role": "assistant", "content": "猫"}]
    reason = "the row is in the messages form, not the file's alpaca form"
    assert refused == [{"file": path, "line": 2, "reason": reason}, {"file": path, "line": 4, "reason": reason}]
    err = capsys.readouterr().err
    assert f"warning: data {path} line 2: {reason}; row skipped" in err.splitlines()


def test_null_output_is_refused_not_emptied(tmp_path, capsys):
    path = _lines(tmp_path / "d.jsonl", [_row(), _row(output=None), _row(output=4)])
    chats, refused = read_conversations(path)
    assert len(chats) == 1
    assert [(r["line"], r["reason"]) for r in refused] == [(2, "'output' is null or missing, not a string"),
                                                           (3, "'output' is a number, not a string")]
    assert "d.jsonl line 2: 'output' is null" in capsys.readouterr().err
    # "input" is optional: null is fine.
    assert read_conversations(_lines(tmp_path / "i.jsonl", [_row(input=None)]))[1] == []


def test_unknown_role_is_refused_with_its_name_and_line(tmp_path, capsys):
    bot = {"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}]}
    path = _lines(tmp_path / "m.jsonl", [json.dumps(MESSAGES[0]), json.dumps(bot)])
    chats, refused = read_conversations(path)
    assert chats == [MESSAGES[0]["messages"]]
    assert refused == [{"file": path, "line": 2, "reason": "role 'bot' is not one of user, assistant, system"}]
    assert ("warning: data " + path + " line 2: role 'bot' is not one of user, assistant, system; row skipped"
            in capsys.readouterr().err)


def test_null_content_and_missing_answer_are_refused(tmp_path):
    no_answer = {"messages": [{"role": "user", "content": "hi"}]}
    null = {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "yo"}]}
    path = _lines(tmp_path / "m.jsonl", [json.dumps(r) for r in (MESSAGES[0], no_answer, null)])
    assert [r["reason"] for r in read_conversations(path)[1]] == [
        "the conversation has no assistant turn", "turn 1's 'content' is null or missing, not a string"]


def test_every_row_refused_is_an_error(tmp_path):
    path = _lines(tmp_path / "d.jsonl", [_row(output=None)] * 8)
    with pytest.raises(LlmkitError, match=r"no row is usable \(8 refused\); the first, .*d\.jsonl line 1: 'output'"):
        read_conversations(path)


def test_blank_lines_do_not_shift_line_numbers(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n" + _row() + "\n\n   \n" + _row(output=None) + "\r\n\n" + _row(output=None) + "\n",
                    encoding="utf-8")
    assert [r["line"] for r in read_conversations(str(path))[1]] == [5, 7]


def test_other_file_types_name_records_rows_and_csv_lines(tmp_path):
    rows = [ALPACA[0], {"instruction": "q", "output": None}, ALPACA[1]]
    assert read_conversations(str(_write(tmp_path / "d.json", rows, "json")))[1][0]["line"] == "record 2"
    assert read_conversations(str(_write(tmp_path / "d.parquet", rows, "parquet")))[1][0]["line"] == "row 2"
    assert read_conversations(str(_write(tmp_path / "d.csv", rows, "csv")))[1][0]["line"] == 3


def test_csv_cells_stay_text(tmp_path):
    path = _write(tmp_path / "d.csv", [{"instruction": "2+2?", "output": "4"}, {"instruction": "0+5?", "output": "05"}],
                  "csv")
    chats, refused = read_conversations(str(path))
    assert refused == [] and [c[-1]["content"] for c in chats] == ["4", "05"]


def test_warnings_stop_after_five(tmp_path, capsys):
    read_conversations(_lines(tmp_path / "d.jsonl", [_row()] + [_row(output=None)] * 7))
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(err) == 6 and err[-1] == "warning: ... and 2 more rows skipped (listed in llmkit_run.json)"


def test_folder_rows_are_traced_to_their_file(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    _lines(folder / "a.jsonl", [_row(), _row()])
    _lines(folder / "b.jsonl", [_row(), _row(output=None)])
    chats, refused = read_conversations(str(folder))
    assert len(chats) == 3 and refused[0]["file"] == str(folder / "b.jsonl") and refused[0]["line"] == 2


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


def test_classification_rows_without_a_text_or_label_are_refused_with_their_line(tmp_path):
    from llmkit.config.finetune import DataSection
    from llmkit.data.classification import load_classification_data

    train = tmp_path / "train.csv"
    train.write_text("text,label\ngood film,pos\n,neg\nawful,neg\nfine,\nnice,pos\n", encoding="utf-8")
    data = load_classification_data(DataSection(path=str(train)), seed=0)
    assert [r["text"] for r in data.train] == ["good film", "awful", "nice"] and data.labels == ["neg", "pos"]
    assert [(r["line"], r["reason"]) for r in data.refused_rows] == [(3, "'text' is empty"), (5, "'label' is empty")]

    train.write_text("text,label\n,neg\n", encoding="utf-8")
    with pytest.raises(LlmkitError, match=r"no row is usable \(1 refused\); the first, .*line 2: 'text' is empty"):
        load_classification_data(DataSection(path=str(train)), seed=0)


def test_the_numerals_task_holds_out_numbers_whose_writing_training_teaches():
    from llmkit.config import build_config
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.data.demo_numerals import chinese_numeral, numerals_split
    from llmkit.tasks.sft import load_conversations

    assert [chinese_numeral(n) for n in (1, 10, 14, 40, 47, 99)] == ["一", "十", "十四", "四十", "四十七", "九十九"]
    train, test = numerals_split("train"), numerals_split("test")
    assert (len(train), len(test)) == (360, 54)
    seen = {e["messages"][1]["content"] for e in train}
    held_out = {e["messages"][1]["content"] for e in test}
    assert len(seen) == 45 and len(held_out) == 54 and not seen & held_out
    two_digit = [s for s in seen if len(s) == 3]  # 二十三: tens digit, 十, units digit
    for digit in "一二三四五六七八九":  # each digit is written in training as tens (2-9) and as units
        assert any(s.endswith(digit) for s in seen)
        assert digit == "一" or any(s.startswith(digit) for s in two_digit)
    assert {c for s in held_out for c in s} <= {c for s in seen for c in s}

    cfg = build_config(FinetuneConfig, {"data": {"path": "numerals"}})
    chats, held_out_chats, refused = load_conversations(cfg)
    assert len(chats) == 360 and len(held_out_chats) == 54 and refused == []
