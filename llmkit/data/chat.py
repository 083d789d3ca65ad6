"""Chat templates: the fallback for tokenizers without one, and the token that ends a turn."""

from __future__ import annotations

from typing import Any

from llmkit.errors import LlmkitError

# The template of llmkit's own tokenizer (ChatML, as Qwen and others use it).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# For a tokenizer that has no template and no chat tokens: plain text plus the EOS token it already
# has, so no embedding rows need adding (new rows would stay untrained under LoRA).
PLAIN_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}"
    "{% elif message['role'] == 'user' %}{{ '### User:\\n' + message['content'] + '\\n\\n' }}"
    "{% else %}{{ '### Assistant:\\n' + message['content'] + eos_token + '\\n\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Assistant:\\n' }}{% endif %}"
)


def ensure_pad_token(tokenizer: Any) -> None:
    """Batches need a pad token: LLaMA-style tokenizers have none, so EOS stands in (it is masked anyway)."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise LlmkitError("the tokenizer has neither a pad nor an EOS token; set one and save it")
        tokenizer.pad_token = tokenizer.eos_token


def ensure_chat_template(tokenizer: Any, fallback: str | None = None) -> bool:
    """Give `tokenizer` a chat template (`fallback`, or the plain one) and a pad token if it lacks them.

    True if a template was added.
    """
    ensure_pad_token(tokenizer)
    if tokenizer.chat_template:
        return False
    if tokenizer.eos_token is None:
        raise LlmkitError("the tokenizer has no chat template and no EOS token to end answers with")
    tokenizer.chat_template = fallback or PLAIN_TEMPLATE
    return True


def turn_end_token_ids(tokenizer: Any) -> list[int]:
    """Token ids that end an assistant turn: EOS, and the special token the template closes turns with.

    Found by rendering a one-turn chat: whatever special token follows the answer ends a turn
    (<|im_end|> for ChatML, <|eot_id|> for Llama 3, EOS for the plain template).
    """
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    marker = "llmkit-answer"
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": marker}], tokenize=False)
    tail = rendered[rendered.index(marker) + len(marker):]
    tail_ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
    special = set(tokenizer.all_special_ids)
    for token_id in tail_ids:
        if token_id in special:
            ids.add(token_id)
            break
    return sorted(ids)
