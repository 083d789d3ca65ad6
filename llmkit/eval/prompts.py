"""How a question is put to the model: each exam's own wording, k shots, and the chat template on or off.

The wording follows lm-evaluation-harness's C-Eval, CMMLU and MMLU task configs: a one-line description,
then the shots (question, options, "答案：" or "Answer:", " " + letter) separated by blank lines, then the
question. A log-likelihood scorer compares the continuations " A", " B", ... after that context.
"""

from __future__ import annotations

from typing import Any

from llmkit.eval.items import EvalItem

TARGET_DELIMITER = " "  # between "答案：" and the letter, as lm-evaluation-harness scores it
SHOT_DELIMITER = "\n\n"


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def description(item: EvalItem) -> str:
    if item.prompt_style == "ceval":
        return f"以下是中国关于{item.subject}考试的单项选择题，请选出其中的正确答案。\n\n"
    if item.prompt_style == "cmmlu":
        return f"以下是关于{item.subject}的单项选择题，请直接给出正确答案的选项。\n\n"
    if item.prompt_style == "mmlu":
        return f"The following are multiple choice questions (with answers) about {item.subject}.\n\n"
    if has_chinese(item.question):
        return "以下是单项选择题，请直接给出正确答案的选项。\n\n"
    return "The following are multiple choice questions (with answers).\n\n"


def choice_body(item: EvalItem) -> str:
    """The question, its lettered options and the answer cue, without the answer."""
    cue = "Answer:" if item.prompt_style == "mmlu" or (item.prompt_style == "llmkit" and not has_chinese(
        item.question)) else "答案："
    options = "".join(f"\n{letter}. {text}" for letter, text in zip(item.letters, item.options))
    return f"{item.question.strip()}{options}\n{cue}"


def choice_context(item: EvalItem, shots: list[EvalItem], answer_with_text: bool = False) -> str:
    """Description, then each shot answered, then the question: the text the answer follows.

    Shots are answered with their letter, or with their option's text when the options' texts are what is
    scored (as lm-evaluation-harness answers shots with the scored choice).
    """
    answered = "".join(choice_body(s) + TARGET_DELIMITER + (s.options[s.answer_index] if answer_with_text
                                                            else s.answer) + SHOT_DELIMITER for s in shots)
    return description(item) + answered + choice_body(item)


def render_choice_prompt(item: EvalItem, shots: list[EvalItem], tokenizer: Any, chat_template: bool,
                         answer_with_text: bool = False) -> str:
    """The prompt text of a choice item: plain, or as one user turn of the tokenizer's chat template."""
    context = choice_context(item, shots, answer_with_text)
    if not chat_template:
        # Earlier turns of a multi-turn item, written out before the question (a plain prompt has no turns).
        turns = "".join(f"{t['role'].capitalize()}: {t['content']}\n" for t in item.history)
        return turns + "\n" + context if turns else context
    return render_chat(tokenizer, item.history + [{"role": "user", "content": context}])


def render_open_prompt(item: EvalItem, tokenizer: Any) -> str:
    """An open question, after its earlier turns, always in the chat template (the model is asked to answer)."""
    return render_chat(tokenizer, item.history + [{"role": "user", "content": item.question}])


def render_chat(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
