"""Log-likelihood of continuations given contexts, batched, as lm-evaluation-harness computes it.

For a choice item the continuations are " A", " B", ... (and, separately, " " + each option's text); the
prediction is the one the model finds most likely. Requests whose model inputs are the same token ids (the
one-token letters after one prompt) share one row: the model sees those ids once and each request reads
its own tokens' log-probabilities from the same logits, as lm-evaluation-harness groups one-token
continuations of one context. A prefix that rows share (a few-shot page, a benchmark's header) runs once
and the rows continue from its cache (llmkit/eval/shared_prefix.py). Rows are sorted longest first and
right-padded, so the scores do not change with the batch size (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.eval.encoding import encode_pair, max_length
from llmkit.eval.shared_prefix import PrefixGroup, cache_for_batch, prefix_groups, run_prefix, supports_prefix_cache


@dataclass
class Continuation:
    logprob: float  # sum of log P(token) over the continuation's tokens
    is_greedy: bool  # every continuation token is the model's argmax
    tokens: int


def score_continuations(model: Any, tokenizer: Any, pairs: list[tuple[str, str]], *, batch_size: int,
                        desc: str = "log-likelihood") -> list[Continuation]:
    """One Continuation per (context, continuation) pair, in the order given."""
    import torch
    from tqdm.auto import tqdm

    limit = max_length(model)
    requests = []
    for context, continuation in pairs:
        context_ids, continuation_ids = encode_pair(tokenizer, context, continuation)
        ids = context_ids + continuation_ids
        # The model sees every token but the last; keep the last `limit` inputs, as lm-evaluation-harness does.
        inputs = ids[:-1][-limit:] if limit else ids[:-1]
        requests.append((inputs, continuation_ids))
    rows: dict[tuple[int, ...], list[int]] = {}  # model inputs -> the requests they answer
    for i, (inputs, _) in enumerate(requests):
        rows.setdefault(tuple(inputs), []).append(i)
    if supports_prefix_cache(model):
        # A request's continuation is predicted by the last len(continuation) inputs: those logits are read.
        reads_from = {inputs: len(inputs) - max(len(requests[i][1]) for i in answers)
                      for inputs, answers in rows.items()}
        groups = prefix_groups(list(rows), reads_from)
    else:
        groups = [PrefixGroup(sorted(rows, key=lambda inputs: -len(inputs)), 0)]
    results: list[Continuation | None] = [None] * len(requests)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    try:
        with tqdm(total=len(requests), desc=desc, unit="request", leave=False) as bar:
            for group in groups:
                shared = group.shared
                prefix_cache = run_prefix(model, list(group.rows[0][:shared])) if shared else None
                for start in range(0, len(group.rows), batch_size):
                    chunk = group.rows[start:start + batch_size]
                    # Logits of the inputs after the shared prefix: position p of `logprobs` is input shared + p.
                    logprobs = _suffix_logprobs(model, [inputs[shared:] for inputs in chunk], pad, shared,
                                                cache_for_batch(prefix_cache, len(chunk)) if shared else None)
                    for row, inputs in enumerate(chunk):
                        end = len(inputs) - shared
                        for i in rows[inputs]:
                            continuation = requests[i][1]
                            n = len(continuation)
                            positions = logprobs[row, end - n:end]
                            target = torch.tensor(continuation)
                            token_logprobs = positions.gather(1, target[:, None]).squeeze(1)
                            results[i] = Continuation(float(token_logprobs.sum()),
                                                      bool((positions.argmax(-1) == target).all()), n)
                        bar.update(len(rows[inputs]))
    finally:
        model.train(was_training)
    return results


def _suffix_logprobs(model: Any, suffixes: list[tuple[int, ...]], pad: int, shared: int, cache: Any) -> Any:
    """Log-probabilities at every position of right-padded `suffixes`, after `shared` cached tokens when
    `cache` holds them. A causal model's logits at real positions do not depend on the padding after them."""
    import torch

    width = max(map(len, suffixes))
    input_ids = torch.full((len(suffixes), width), pad, dtype=torch.long)
    attention = torch.zeros((len(suffixes), shared + width), dtype=torch.long)
    attention[:, :shared] = 1
    for row, suffix in enumerate(suffixes):
        input_ids[row, :len(suffix)] = torch.tensor(suffix)
        attention[row, shared:shared + len(suffix)] = 1
    extra = {"cache": cache} if cache is not None else {}
    with torch.no_grad():
        logits = model(input_ids=input_ids.to(model.device), attention_mask=attention.to(model.device),
                       **extra).logits
    return torch.log_softmax(logits.float(), dim=-1).cpu()
