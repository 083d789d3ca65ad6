from llmkit.data.chat import PLAIN_TEMPLATE, ensure_chat_template, turn_end_token_ids
from llmkit.data.sft import tokenize_chat


def test_chatml_turns_end_with_im_end(tiny_tokenizer):
    assert turn_end_token_ids(tiny_tokenizer) == sorted(
        {tiny_tokenizer.eos_token_id, tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")})


def test_tokenizer_without_template_gets_the_plain_one(tiny_tokenizer):
    import copy

    bare = copy.deepcopy(tiny_tokenizer)
    bare.chat_template = None
    bare.pad_token = None
    assert ensure_chat_template(bare) is True
    assert bare.chat_template == PLAIN_TEMPLATE and bare.pad_token == bare.eos_token
    assert turn_end_token_ids(bare) == [bare.eos_token_id]
    chat = tokenize_chat(bare, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}], 256)
    learned = bare.decode([t for t, label in zip(chat.input_ids, chat.labels) if label != -100])
    assert learned == "ok<|endoftext|>\n\n"
    assert ensure_chat_template(tiny_tokenizer) is False  # a template it has is kept


def test_a_glm_base_without_a_template_is_prompted_alike_in_chat_and_eval(tmp_path, tiny_tokenizer, monkeypatch):
    import copy

    from conftest import tiny_model

    from llmkit.config.eval import EvalModelSection
    from llmkit.eval.items import EvalItem
    from llmkit.eval.prompts import render_open_prompt
    from llmkit.inference.chat_session import ChatSession
    from llmkit.tuning.families import GLM_TEMPLATE
    from llmkit.workflows.evaluate import load_eval_model

    bare = copy.deepcopy(tiny_tokenizer)
    bare.chat_template = None  # a GLM base checkpoint: no template of its own
    tiny_model("glm", bare).save_pretrained(tmp_path)
    bare.save_pretrained(tmp_path)

    session = ChatSession.load(str(tmp_path), max_new_tokens=1)
    asked = []  # the prompts chat renders (it also renders a finished turn, to find the token that ends one)
    render = session.tokenizer.apply_chat_template

    def spy(messages, **kwargs):
        text = render(messages, **kwargs)
        if kwargs.get("add_generation_prompt"):
            asked.append(text)
        return text

    monkeypatch.setattr(session.tokenizer, "apply_chat_template", spy)
    session.ask("hi", echo=False)
    _, eval_tokenizer, _ = load_eval_model(EvalModelSection(path=str(tmp_path)))
    evaluated = render_open_prompt(EvalItem(id="1", category="c", type="open", question="hi"), eval_tokenizer)

    assert asked == [evaluated] == ["[gMASK]<sop><|user|>\nhi<|assistant|>\n"]
    assert session.tokenizer.chat_template == eval_tokenizer.chat_template == GLM_TEMPLATE
