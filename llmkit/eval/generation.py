"""Greedy generation for many prompts at once: left padding, so every prompt ends where its answer starts."""

from __future__ import annotations

from typing import Any

from llmkit.data.chat import turn_end_token_ids
from llmkit.eval.encoding import encode, max_length
from llmkit.eval.output_cache import OutputCache

# What a tokenizer decodes the bytes of an unfinished UTF-8 character to.
_REPLACEMENT = "\ufffd"


def generate_texts(model: Any, tokenizer: Any, prompts: list[str], *, max_new_tokens: int, batch_size: int,
                   add_special_tokens: bool | None = None, stop: tuple[str, ...] = (),
                   desc: str = "generating") -> list[str]:
    """Greedy answers (stripped), in the order of `prompts`.

    Generation ends at EOS or the token that ends a chat turn; the text is then cut at the first of `stop`
    (a base model asked a plain exam question goes on to write the next one after a blank line), and a
    prompt's generation ends as soon as its answer holds one, since what follows is cut anyway.
    `add_special_tokens=None` encodes as lm-evaluation-harness does (BOS unless the text has one).
    Prompts are batched longest first; a prompt too long for the model loses its start.
    """
    import torch
    from tqdm.auto import tqdm

    stop_ids = turn_end_token_ids(tokenizer) if tokenizer.chat_template else [tokenizer.eos_token_id]
    limit = max_length(model)
    keep = limit - max_new_tokens if limit else None
    encoded = [(tokenizer.encode(p, add_special_tokens=add_special_tokens) if add_special_tokens is not None
                else encode(tokenizer, p)) for p in prompts]
    encoded = [ids[-keep:] if keep and keep > 0 else ids for ids in encoded]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    answers: list[str] = [""] * len(prompts)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    was_training = model.training
    model.eval()
    try:
        for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", leave=False):
            chunk = order[start:start + batch_size]
            width = max(len(encoded[i]) for i in chunk)
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                input_ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
                attention[row, width - len(encoded[i]):] = 1
            with torch.no_grad():
                output = model.generate(input_ids=input_ids.to(model.device), attention_mask=attention.to(model.device),
                                        max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop_ids,
                                        pad_token_id=pad, use_cache=True,
                                        stopping_criteria=[_StopAtMarkers(tokenizer, width, stop)] if stop else None)
            texts = tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
            for i, text in zip(chunk, texts):
                answers[i] = _cut(whole_characters(text), stop).strip()
    finally:
        model.train(was_training)
    return answers


def whole_characters(text: str) -> str:
    """`text` without the character the token budget cut in half.

    Byte-level tokenizers spend 2-4 tokens on a Chinese character: an answer stopped at max_new_tokens can
    end with part of one, which decodes to U+FFFD. Those bytes are not the model's answer yet, so they go
    (the complete characters decoded from the same tokens stay).
    """
    return text.rstrip(_REPLACEMENT)


def cached_generate(model: Any, tokenizer: Any, prompts: list[str], *, cache: OutputCache, max_new_tokens: int,
                    batch_size: int, add_special_tokens: bool | None = None, stop: tuple[str, ...] = (),
                    desc: str = "generating") -> list[str]:
    """generate_texts, answering from `cache` what it holds and storing the rest."""
    # "text" names how answers are decoded, so answers cached before whole_characters are not reused.
    keys = [cache.key("generate", prompt=p, max_new_tokens=max_new_tokens, stop=stop,
                      special_tokens=add_special_tokens, text="whole characters") for p in prompts]
    return cache.fetch(keys, lambda missing: generate_texts(
        model, tokenizer, [prompts[i] for i in missing], max_new_tokens=max_new_tokens, batch_size=batch_size,
        add_special_tokens=add_special_tokens, stop=stop, desc=desc))


class _StopAtMarkers:
    """A generate stopping criterion: done for the rows whose answer so far holds a stop marker once its
    leading blanks are set aside, as `_cut` reads it (generate calls any callable in stopping_criteria)."""

    def __init__(self, tokenizer: Any, prompt_width: int, markers: tuple[str, ...]):
        self.tokenizer, self.prompt_width, self.markers = tokenizer, prompt_width, markers

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width:], skip_special_tokens=True)
        return torch.tensor([any(m in t.lstrip() for m in self.markers) for t in texts], device=input_ids.device)


def generate_within_budgets(model: Any, tokenizer: Any, prompts: list[str], budgets: list[int], *,
                            cache: OutputCache, batch_size: int, add_special_tokens: bool | None = None,
                            stop: tuple[str, ...] = (), desc: str = "generating") -> list[str]:
    """cached_generate with each prompt's own token budget: one pass per distinct budget."""
    answers: list[str] = [""] * len(prompts)
    for budget in sorted(set(budgets)):
        group = [i for i, b in enumerate(budgets) if b == budget]
        for i, answer in zip(group, cached_generate(model, tokenizer, [prompts[i] for i in group], cache=cache,
                                                    max_new_tokens=budget, batch_size=batch_size,
                                                    add_special_tokens=add_special_tokens, stop=stop, desc=desc)):
            answers[i] = answer
    return answers


def _cut(text: str, stop: tuple[str, ...]) -> str:
    text = text.strip()  # leading blank lines are not the end of an answer
    for marker in stop:
        text = text.split(marker, 1)[0]
    return text
