"""Log-likelihood of continuations given contexts, batched, as lm-evaluation-harness computes it.

For a choice item the continuations are " A", " B", ... (and, separately, " " + each option's text); the
prediction is the one the model finds most likely. Requests whose model inputs are the same token ids (the
one-token letters after one prompt) share one row: the model sees those ids once and each request reads
its own tokens' log-probabilities from the same logits, as lm-evaluation-harness groups one-token
continuations of one context. Rows are sorted longest first and right-padded: a causal model's logits at
real positions do not depend on the padding after them, so the scores do not change with the batch size
(tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.eval.encoding import encode_pair, max_length


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
    order = sorted(rows, key=lambda inputs: -len(inputs))
    results: list[Continuation | None] = [None] * len(requests)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    try:
        with tqdm(total=len(requests), desc=desc, unit="request", leave=False) as bar:
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                width = len(chunk[0])
                input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                attention = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, inputs in enumerate(chunk):
                    input_ids[row, :len(inputs)] = torch.tensor(inputs)
                    attention[row, :len(inputs)] = 1
                with torch.no_grad():
                    logits = model(input_ids=input_ids.to(model.device),
                                   attention_mask=attention.to(model.device)).logits
                logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
                for row, inputs in enumerate(chunk):
                    for i in rows[inputs]:
                        continuation = requests[i][1]
                        n = len(continuation)
                        # The continuation's tokens are predicted by the last n positions of the inputs.
                        positions = logprobs[row, len(inputs) - n:len(inputs)]
                        target = torch.tensor(continuation)
                        token_logprobs = positions.gather(1, target[:, None]).squeeze(1)
                        results[i] = Continuation(float(token_logprobs.sum()),
                                                  bool((positions.argmax(-1) == target).all()), n)
                    bar.update(len(rows[inputs]))
    finally:
        model.train(was_training)
    return results
