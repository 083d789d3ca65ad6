"""Benchmark loaders on small files in the real column layouts, and broken ones reported by file and line."""

import json

import pytest

from llmkit.errors import LlmkitError
from llmkit.eval.formats import FORMATS, SAMPLE_BENCHMARK, detect_format, load_source
from llmkit.eval.prompts import choice_context


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_ceval_layout_with_shots_and_bad_rows(tmp_path):
    header = "id,question,A,B,C,D,answer,explanation\n"
    write(tmp_path / "val" / "computer_network_val.csv", header +
          '0,"TCP 属于哪一层？",应用层,传输层,网络层,物理层,B,\n'
          '1,"多行\n问题",甲,乙,丙,丁,E,\n'  # answer E: skipped, reported at its first line (3)
          '2,只有三列,x\n'
          "3,IP 属于哪一层？,应用层,传输层,网络层,物理层,C,\n")
    write(tmp_path / "dev" / "computer_network_dev.csv",
          header + "0,HTTP 属于哪一层？,应用层,传输层,网络层,物理层,A,解释\n")
    assert detect_format(tmp_path) == "ceval"
    bench = load_source(str(tmp_path))
    assert [i.question for i in bench.items] == ["TCP 属于哪一层？", "IP 属于哪一层？"]
    assert [i.answer for i in bench.items] == ["B", "C"]
    item = bench.items[0]
    assert item.category == "ceval/computer_network" and item.prompt_style == "ceval"
    # No subject_mapping.json: the subject is named in Chinese from the official list shipped with llmkit.
    assert item.subject == "计算机网络" and item.options == ["应用层", "传输层", "网络层", "物理层"]
    assert [s.answer for s in bench.shots["ceval/computer_network"]] == ["A"]
    assert choice_context(item, []).startswith("以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。")
    file = str(tmp_path / "val" / "computer_network_val.csv")
    assert [(s.file, s.line) for s in bench.skipped] == [(file, 3), (file, 5)]
    assert "not A-D" in bench.skipped[0].reason
    assert bench.skipped[1].reason == "3 columns where the header has 8: a cell is missing"
    assert bench.warnings == []


def test_a_subject_mapping_file_overrides_the_shipped_names(tmp_path):
    for subject in ("computer_network", "my_exam"):
        write(tmp_path / "val" / f"{subject}_val.csv", "id,question,A,B,C,D,answer\n0,q,a,b,c,d,A\n")
    mapping = {"computer_network": ["Networks", "网络原理", "STEM"], "my_exam": ["My Exam", "自编考试", "Other"]}
    write(tmp_path / "subject_mapping.json", json.dumps(mapping, ensure_ascii=False))
    bench = load_source(str(tmp_path))
    assert [i.subject for i in bench.items] == ["网络原理", "自编考试"]
    assert choice_context(bench.items[0], []) == ("以下是中国关于网络原理考试的单项选择题，请选出其中的正确答案。\n\n"
                                                  "q\nA. a\nB. b\nC. c\nD. d\n答案：")
    assert bench.warnings == []
    write(tmp_path / "subject_mapping.json", '{"computer_network": "no list"}')
    with pytest.raises(LlmkitError, match="not a subject mapping in C-Eval's format"):
        load_source(str(tmp_path))


def test_an_unknown_subject_is_named_by_its_file_with_a_warning(tmp_path):
    file = write(tmp_path / "val" / "my_exam_val.csv", "id,question,A,B,C,D,answer\n0,q,a,b,c,d,A\n")
    bench = load_source(str(tmp_path))
    assert bench.items[0].subject == "my exam"
    [note] = bench.warnings
    assert (note.file, note.line) == (str(file), 1) and "my_exam is not a ceval subject" in note.reason
    assert "subject_mapping.json" in note.reason


def test_official_subject_lists_are_complete():
    from llmkit.eval.subjects import official_subjects

    subjects = official_subjects()
    assert len(subjects["ceval"]) == 52 and len(subjects["cmmlu"]) == 67
    assert {entry[2] for entry in subjects["ceval"].values()} == {"STEM", "Social Science", "Humanities", "Other"}
    for exam in ("ceval", "cmmlu"):
        for stem, entry in subjects[exam].items():
            assert entry[0].lower().replace(" ", "_") == stem, (exam, stem)  # the English name of the file
            assert any("\u4e00" <= ch <= "\u9fff" for ch in entry[1]), (exam, stem)
    assert subjects["ceval"]["mao_zedong_thought"][1] == "毛泽东思想和中国特色社会主义理论体系概论"
    assert subjects["ceval"]["accountant"] == ["Accountant", "注册会计师", "Other"]
    assert subjects["cmmlu"]["elementary_commonsense"][1] == "小学常识"
    assert subjects["cmmlu"]["high_school_physics"][1] == "高中物理学"


def test_rows_with_an_empty_option_are_scored_with_a_warning_and_broken_rows_say_why(tmp_path):
    header = "id,question,A,B,C,D,answer,explanation\n"
    file = write(tmp_path / "val" / "law_val.csv", header +
                 "0,q1,a,b,c,,A,\n"  # option D empty: scored, with a warning
                 "1,q2,a,b,c,A,\n"  # option D missing: the answer moved into D, the row is one cell short
                 "2,q3,a,b,c,d,,\n")  # the answer cell is empty (in val: no word about unpublished answers)
    bench = load_source(str(tmp_path))
    [item] = bench.items
    assert item.options == ["a", "b", "c", ""] and item.answer == "A"
    assert [str(w) for w in bench.warnings] == [f"{file}:2: option D is empty; the item is scored with it blank"]
    assert [(s.line, s.reason) for s in bench.skipped] == [
        (3, "7 columns where the header has 8: a cell is missing"), (4, "the answer cell is empty")]
    write(tmp_path / "test" / "law_test.csv", header + "0,q,a,b,c,d,,\n")
    [skipped] = FORMATS["ceval"].load(tmp_path, "test").skipped
    assert skipped.reason == "the answer cell is empty (ceval's test answers are unpublished; use --split val)"


def test_llmkit_rows_with_an_empty_option_are_warned_about(tmp_path):
    path = write(tmp_path / "items.jsonl", json.dumps(
        {"id": "c1", "category": "logic", "question": "q?", "options": ["x", " ", "z"], "answer": "A"}) + "\n")
    bench = load_source(str(path))
    assert len(bench.items) == 1 and [w.line for w in bench.warnings] == [1]
    assert "option B is empty" in bench.warnings[0].reason


def test_ceval_test_split_without_answers_is_skipped_with_a_reason(tmp_path):
    write(tmp_path / "test" / "law_test.csv", "id,question,A,B,C,D\n0,q,a,b,c,d\n")
    bench = FORMATS["ceval"].load(tmp_path, "test")
    assert bench.items == [] and "unpublished" in bench.skipped[0].reason
    assert FORMATS["ceval"].load(tmp_path, "test").skipped[0].reason == (
        "the file has no answer column (ceval's test answers are unpublished; use --split val)")


def test_cmmlu_layout(tmp_path):
    write(tmp_path / "test" / "chinese_history.csv",
          ",Question,A,B,C,D,Answer\n0,秦始皇统一六国是在哪一年？,公元前221年,公元前206年,公元前202年,公元前230年,A\n")
    write(tmp_path / "dev" / "chinese_history.csv",
          ",Question,A,B,C,D,Answer\n0,唐朝的都城是？,长安,洛阳,南京,北京,A\n")
    assert detect_format(tmp_path) == "cmmlu"
    bench = load_source(f"cmmlu={tmp_path}")
    [item] = bench.items
    assert item.answer == "A" and item.category == "cmmlu/chinese_history" and item.prompt_style == "cmmlu"
    assert item.source.endswith("chinese_history.csv:2")
    assert len(bench.shots["cmmlu/chinese_history"]) == 1
    assert choice_context(item, []).startswith("以下是关于中国历史的单项选择题，请直接给出正确答案的选项。\n\n")
    # CMMLU reads a subject_mapping.json (C-Eval's format) too.
    write(tmp_path / "subject_mapping.json", json.dumps({"chinese_history": ["History", "历史", "Humanities"]}))
    assert load_source(f"cmmlu={tmp_path}").items[0].subject == "历史"


def test_cmmlu_file_with_a_wrong_header_is_skipped_whole(tmp_path):
    write(tmp_path / "test" / "x.csv", "question,a,b\n1,2,3\n")
    bench = FORMATS["cmmlu"].load(tmp_path, "test")
    assert bench.items == [] and bench.skipped[0].line == 1 and "lacks" in bench.skipped[0].reason


def test_mmlu_layout_has_no_header(tmp_path):
    write(tmp_path / "test" / "high_school_physics_test.csv",
          "What is the SI unit of force?,joule,newton,watt,pascal,B\nbroken row,only,three\n")
    write(tmp_path / "dev" / "high_school_physics_dev.csv", "Unit of energy?,joule,newton,watt,pascal,A\n")
    assert detect_format(tmp_path) == "mmlu"
    bench = load_source(str(tmp_path))
    [item] = bench.items
    assert item.subject == "high school physics" and item.answer == "B" and item.prompt_style == "mmlu"
    assert bench.warnings == []  # MMLU names subjects by their files, as its own prompt does
    assert bench.skipped[0].line == 2
    assert bench.shots["mmlu/high_school_physics"][0].answer == "A"


def test_clue_classification_tasks(tmp_path):
    afqmc = write(tmp_path / "afqmc" / "dev.json", "\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"sentence1": "花呗怎么还款", "sentence2": "花呗如何还钱", "label": "1"},
        {"sentence1": "借呗额度", "sentence2": "蚂蚁森林", "label": "0"},
        {"sentence1": "缺了标签", "sentence2": "x"}]) + "\n{not json\n")
    bench = load_source(str(afqmc.parent))
    assert [i.answer for i in bench.items] == ["B", "A"] and bench.items[0].options == ["不同", "相同"]
    assert [s.line for s in bench.skipped] == [3, 4]
    tnews = write(tmp_path / "tnews.json", json.dumps({"label": "103", "label_desc": "news_sports",
                                                       "sentence": "国足出线", "keywords": ""}, ensure_ascii=False))
    [item] = load_source(str(tnews)).items
    assert len(item.options) == 15 and item.options[item.answer_index] == "体育"
    csl = write(tmp_path / "csl.json", json.dumps({"id": 1, "abst": "本文研究...", "keyword": ["深度学习", "图像"],
                                                   "label": "0"}, ensure_ascii=False))
    [item] = load_source(f"csl={csl}").items
    assert item.answer == "A" and "深度学习，图像" in item.question


def test_llmkit_jsonl_rows_and_errors(tmp_path):
    rows = [
        {"id": "c1", "category": "logic", "type": "choice", "question": "q?", "options": ["x", "y"], "answer": "b"},
        {"id": "o1", "category": "calc", "type": "open", "question": "1+1?", "reference": "2",
         "metric": "numeric_match",
         "history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
        {"id": "d1", "category": "logic", "question": "shot?", "options": ["x", "y"], "answer": "A", "split": "dev"},
        {"id": "bad1", "category": "logic", "type": "choice", "question": "q", "options": ["x", "y"], "answer": "C"},
        {"id": "bad2", "category": "calc", "type": "open", "question": "q", "metric": "bertscore"},
        {"id": "bad3", "question": "no category"},
    ]
    path = write(tmp_path / "items.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n[1, 2]\n")
    bench = load_source(str(path))
    assert [i.id for i in bench.items] == ["c1", "o1"]
    assert bench.items[0].answer == "B" and bench.items[1].history[1]["content"] == "hello"
    assert [s.id for s in bench.shots["logic"]] == ["d1"]
    assert [s.line for s in bench.skipped] == [4, 5, 6, 7]
    assert "answer" in bench.skipped[0].reason and "bertscore" in bench.skipped[1].reason
    assert "category" in bench.skipped[2].reason and "JSON object" in bench.skipped[3].reason


def test_sample_benchmark_is_shipped_and_complete():
    bench = load_source("sample")
    per_category = {}
    for item in bench.items:
        per_category.setdefault(item.category, set()).add(item.type)
    assert len(per_category) >= 8 and bench.skipped == []
    assert all(sum(i.category == c for i in bench.items) >= 10 for c in per_category)
    assert {t for types in per_category.values() for t in types} == {"choice", "open"}
    assert any("\u4e00" <= ch <= "\u9fff" for i in bench.items for ch in i.question)  # Chinese
    assert any(i.question.isascii() for i in bench.items)  # and English
    assert SAMPLE_BENCHMARK.is_dir()


def test_sample_answer_keys_are_balanced():
    # A key that favours one letter lets a model that always picks it look competent: every letter near a
    # quarter overall, none more than half of a category, and each category's shots not all one letter.
    from collections import Counter

    bench = load_source("sample")
    choice = [i for i in bench.items if i.type == "choice"]
    assert {len(i.options) for i in choice} == {4}
    overall = Counter(i.answer for i in choice)
    assert all(abs(overall[letter] / len(choice) - 0.25) <= 0.05 for letter in "ABCD"), overall
    for category in {i.category for i in choice}:
        keys = Counter(i.answer for i in choice if i.category == category)
        assert max(keys.values()) <= sum(keys.values()) / 2 and len(keys) >= 3, (category, keys)
        assert len({s.answer for s in bench.shots[category]}) >= 2, category


def test_missing_and_unknown_sources(tmp_path):
    with pytest.raises(LlmkitError, match="does not exist"):
        load_source(str(tmp_path / "nope"))
    with pytest.raises(LlmkitError, match="cannot tell the format"):
        load_source(str(write(tmp_path / "x.jsonl", '{"text": "hi"}\n')))
    with pytest.raises(LlmkitError, match="no ceval files"):
        FORMATS["ceval"].load(tmp_path, "val")


def test_a_multi_turn_choice_item_keeps_its_earlier_turns_in_a_plain_prompt(tiny_tokenizer):
    from llmkit.eval.items import EvalItem
    from llmkit.eval.prompts import render_choice_prompt

    history = [{"role": "user", "content": "今天星期三。"}, {"role": "assistant", "content": "好的。"}]
    item = EvalItem(id="1", category="c", type="choice", question="那后天呢？", options=["星期四", "星期五"],
                    answer="B", history=history)
    plain = render_choice_prompt(item, [], tiny_tokenizer, chat_template=False)
    assert plain.startswith("User: 今天星期三。\nAssistant: 好的。\n\n") and plain.endswith("B. 星期五\n答案：")
    chat = render_choice_prompt(item, [], tiny_tokenizer, chat_template=True)
    assert chat.index("今天星期三") < chat.index("好的") < chat.index("那后天呢")
