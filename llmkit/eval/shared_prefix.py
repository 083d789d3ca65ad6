"""A prefix that many scoring rows share (a few-shot page, a benchmark's header, a chat template's system turn),
run through the model once.

The rows are split into groups of neighbours in token order; a group's prefix is the longest run of tokens all
its rows begin with, cut back so that every position whose logits are read lies after it. The model runs the
prefix once, and each batch of the group continues from a copy of that key/value cache. Attention over a cached
prefix is the same computation as over the prefix in the row, so the log-likelihoods agree to float rounding:
the same order of difference as changing the batch size (about 1e-5 on SmolLM2-135M in float32).
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any

# Below this many shared tokens a separate forward for the prefix saves less than it costs.
MIN_SHARED_TOKENS = 16


@dataclass
class PrefixGroup:
    rows: list[tuple[int, ...]]  # longest first
    shared: int  # tokens at the start of every row that the model runs once; 0 when not worth it


def prefix_groups(rows: list[tuple[int, ...]], reads_from: dict[tuple[int, ...], int]) -> list[PrefixGroup]:
    """`rows` in groups that share a prefix. `reads_from[row]` is the first position whose logits are read.

    Rows are visited in token order, so rows with a common start are neighbours. A row joins the group before
    it when they share at least MIN_SHARED_TOKENS and the row saves more than it costs: with n rows sharing s
    tokens the group runs (n - 1) * s tokens fewer than its rows alone, so a row that cuts the prefix to s'
    joins when n * s' >= (n - 1) * s. A new benchmark subject, with its own header and shots, so starts a
    new group.
    """
    groups: list[tuple[list[tuple[int, ...]], int]] = []
    for row in sorted(rows):
        if groups:
            members, shared = groups[-1]
            joined = min(shared, _common_length(members[0], row), reads_from[row])
            if joined >= MIN_SHARED_TOKENS and len(members) * joined >= (len(members) - 1) * shared:
                members.append(row)
                groups[-1] = (members, joined)
                continue
        groups.append(([row], reads_from[row]))
    return [PrefixGroup(sorted(members, key=lambda row: -len(row)),
                        shared if len(members) > 1 else 0)
            for members, shared in groups]


def _common_length(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def supports_prefix_cache(model: Any) -> bool:
    """Whether `model` can continue a batch of rows from one cached prefix.

    It must be a transformers model whose forward takes a `cache` (and `logits_to_keep`, so that the prefix's
    run skips the logits nobody reads), and whose cache is made of plain growing
    layers: a sliding-window layer drops the oldest keys. A peft prompt-learning model is left out: it puts
    its own virtual tokens or cache in front of every input.
    """
    from transformers.cache_utils import DynamicCache, DynamicLayer

    peft_config = getattr(model, "active_peft_config", None)
    if peft_config is not None and peft_config.is_prompt_learning:
        return False
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not {"cache", "logits_to_keep"} <= set(inspect.signature(type(base).forward).parameters):
        return False
    layers = DynamicCache(config=base.config).layers
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def run_prefix(model: Any, prefix: list[int]) -> Any:
    """The key/value cache of one row of `prefix` tokens."""
    import torch

    with torch.no_grad():
        # Only the cache is used: one position's logits instead of a vocabulary-wide row per prefix token.
        return model(input_ids=torch.tensor([prefix], device=model.device), use_cache=True, logits_to_keep=1).cache


def cache_for_batch(prefix_cache: Any, rows: int) -> Any:
    """A copy of `prefix_cache` for `rows` rows: the forward that continues from it appends to it."""
    cache = copy.deepcopy(prefix_cache)
    cache.batch_repeat_interleave(rows)
    return cache
