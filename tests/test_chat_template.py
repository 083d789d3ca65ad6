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
