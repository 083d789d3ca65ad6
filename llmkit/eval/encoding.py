"""Prompt text -> token ids, the way lm-evaluation-harness does it, so scores compare with its own."""

from __future__ import annotations

from typing import Any


def encode(tokenizer: Any, text: str) -> list[int]:
    """The tokenizer's own special tokens (BOS for LLaMA-style ones), unless the text already starts with BOS
    (a chat template that writes it), as lm-evaluation-harness's `HFLM.tok_encode` does."""
    starts_with_bos = bool(tokenizer.bos_token) and text.startswith(tokenizer.bos_token)
    return tokenizer.encode(text, add_special_tokens=not starts_with_bos)


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) as lm-evaluation-harness splits them: trailing spaces of the context move
    to the continuation, the pair is tokenised whole, and the continuation is what follows the context's tokens."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole = encode(tokenizer, context + continuation)
    context_ids = encode(tokenizer, context)
    return context_ids, whole[len(context_ids):]


def max_length(model: Any) -> int | None:
    """The longest input the model takes, when its config says (prompts are cut from the left to fit)."""
    config = getattr(model, "config", None)
    return getattr(config, "max_position_embeddings", None)
