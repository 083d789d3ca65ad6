"""The numbers of a report, on hand-made records: one headline formula, baselines and the noise warning,
lm-evaluation-harness's acc/acc_norm/acc_bytes, token budgets per category and answers cut at a budget."""

import pytest

from llmkit.config.eval import ReportSection
from llmkit.errors import LlmkitError
from llmkit.eval.baselines import choice_baselines, noise_margin, noise_warning
from llmkit.eval.choice import multiple_choice_record
from llmkit.eval.generation import whole_characters
from llmkit.eval.items import EvalItem
from llmkit.eval.report import markdown_report, summarize
from llmkit.eval.token_budget import budget_for, parse_budgets


def choice(category, answer, correct, options=4):
    return {"category": category, "type": "choice", "answer": answer, "options": ["x"] * options,
            "score": 100.0 * correct, "correct": correct}


def opened(category, reference_score):
    return {"category": category, "type": "open", "reference_score": reference_score}


def test_one_headline_formula_for_the_total_and_every_category():
    # "mixed": 1 of 2 choice items right (50), open items 0.2 and 0.4 (30): weights 1 and 3 -> 35.
    # "choice_only": 3 of 3 right. Overall: choice 4/5 = 80, open 30 -> (80 + 3 * 30) / 4 = 42.5.
    records = [choice("mixed", "A", True), choice("mixed", "B", False), opened("mixed", 0.2), opened("mixed", 0.4),
               *[choice("choice_only", letter, True) for letter in "ABC"]]
    results = summarize(records, ReportSection(choice_weight=1.0, reference_weight=3.0), "generate")
    assert results["tracks"] == {"choice": 80.0, "open_reference": 30.0}
    assert results["total"] == 42.5 == results["overall"]["score"]
    assert results["categories"]["mixed"]["score"] == 35.0
    assert results["categories"]["choice_only"]["score"] == 100.0
    # Not the mean of the items (100 + 0 + 20 + 40 + 300) / 7 = 65.7, which the overall row used to show.
    assert results["overall"]["score"] != pytest.approx(65.71, abs=0.01)


def test_baselines_per_group():
    records = [choice("c", "B", True), choice("c", "B", False), choice("c", "A", False), choice("c", "C", True, 2)]
    assert choice_baselines(records) == {"majority_letter": "B", "majority_baseline": 50.0,
                                         "random_baseline": round(100 * (3 / 4 + 1 / 2) / 4, 2)}
    assert choice_baselines([choice("c", "D", True), choice("c", "A", True)])["majority_letter"] == "A"  # a tie
    assert choice_baselines([opened("c", 1.0)]) == {}
    results = summarize(records, ReportSection(), "loglikelihood")
    assert results["categories"]["c"]["majority_baseline"] == 50.0 and "random_baseline" in results["overall"]


def test_noise_warning_when_a_score_is_within_noise_of_guessing():
    summary = {"choice_items": 57, "majority_letter": "B", "majority_baseline": 45.6, "random_baseline": 25.0}
    margin = noise_margin(45.6, 57)
    assert margin == pytest.approx(200 * (0.456 * 0.544 / 57) ** 0.5)
    line = noise_warning(50.0, summary, "generate")
    assert "always B scores 45.6%" in line and "57 items" in line and "\n" not in line
    assert noise_warning(28.1, summary, "generate") is not None  # below guessing is no better either
    assert noise_warning(45.6 + margin + 0.1, summary, "generate") is None


def test_the_report_shows_baselines_and_the_warning():
    records = [choice("logic", "A", True), choice("logic", "A", True), choice("logic", "B", False)]
    results = {"model": "m", "adapter": None, "sources": ["sample"], "choice_primary": "generate",
               "choice_shots": 0, "chat_template": False, "skipped_rows": 0, "row_warnings": 1,
               **summarize(records, ReportSection(), "generate")}
    report = markdown_report(results)
    assert "| always" in report and "66.7 A" in report and "| random" in report
    assert f"Warning: {results['baseline_warning']}." in report
    assert "**Total 66.7**" in report and "1 rows were scored with a warning" in report
    assert "- always: guessing" in report  # the legend says what each column means


def test_lm_eval_accuracies_of_one_item():
    item = EvalItem(id="1", category="c", type="choice", question="q", options=["北京", "Paris", "x"], answer="B")
    # acc: -4.0 is largest (x); acc_norm per character: -3.0, -1.5, -4.0 (Paris); per UTF-8 byte: -1.0 (北京 is
    # 6 bytes), -1.5, -4.0 (北京).
    record = multiple_choice_record(item, [-6.0, -7.5, -4.0], item.options, "acc_norm")
    assert record == {"logprobs": [-6.0, -7.5, -4.0], "predicted": "B", "acc": False, "acc_norm": True,
                      "acc_bytes": False, "correct": True}
    letters = multiple_choice_record(item, [-2.0, -1.0, -1.0], item.letters, "acc")
    assert letters["predicted"] == "B"  # the first of equals, as numpy's argmax
    assert letters["acc"] == letters["acc_norm"] == letters["acc_bytes"] is True  # one-letter choices agree


def test_token_budgets_per_category():
    budgets = parse_budgets(["couplet=64", "ceval/=16", "ceval/law=8"])
    assert budget_for("couplet", 32, budgets) == 64 and budget_for("logic", 32, budgets) == 32
    assert budget_for("ceval/accountant", 32, budgets) == 16 and budget_for("ceval/law", 32, budgets) == 8
    for bad in ("couplet", "couplet=", "=5", "couplet=0", "couplet=ten"):
        with pytest.raises(LlmkitError, match="not CATEGORY=N"):
            parse_budgets([bad])


def test_an_answer_cut_inside_a_character_loses_that_character(tiny_tokenizer):
    ids = tiny_tokenizer.encode("答案是中", add_special_tokens=False)
    whole = tiny_tokenizer.decode(ids)
    assert whole == "答案是中"
    # Byte-level tokens: some cut through a character, which decodes to U+FFFD.
    cuts = [tiny_tokenizer.decode(ids[:n]) for n in range(1, len(ids))]
    broken = [text for text in cuts if text.endswith("\ufffd")]
    assert broken, "the tokenizer spends several tokens on a Chinese character"
    for text in broken:
        kept = whole_characters(text)
        assert "\ufffd" not in kept and whole.startswith(kept)
    assert whole_characters(whole) == whole
