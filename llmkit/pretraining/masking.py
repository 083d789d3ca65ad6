"""BERT's masked-LM corruption (Devlin et al. 2019, section 3.1), drawn afresh for every batch.

15% of the real tokens are chosen; of those 80% become [MASK], 10% a random token, 10% stay as
they are; the model is scored on the chosen positions only. The draws come from a generator seeded
by (seed, step), so a resumed run masks exactly as an uninterrupted one would (on the same device kind).
"""

from __future__ import annotations

from typing import Any

from llmkit.data.packing import IGNORE_INDEX

MASK_RATE = 0.15
REPLACE_WITH_MASK = 0.8
REPLACE_WITH_RANDOM = 0.1  # of the chosen tokens; the remaining 0.1 keep their token


def mask_tokens(input_ids: Any, maskable: Any, mask_id: int, vocab_size: int, seed: int,
                step: int) -> tuple[Any, Any]:
    """(corrupted input_ids, labels): labels hold the original token at chosen positions, -100 elsewhere.

    `maskable` is a bool tensor: False for padding and special tokens, which are never chosen.
    """
    import torch

    # Drawn on the tensors' own device: copying CPU draws to a GPU would make every step wait for it.
    device = input_ids.device
    generator = torch.Generator(device=device).manual_seed(seed * 1_000_003 + step)
    shape = input_ids.shape
    chosen = (torch.rand(shape, generator=generator, device=device) < MASK_RATE) & maskable
    action = torch.rand(shape, generator=generator, device=device)
    random_tokens = torch.randint(vocab_size, shape, generator=generator, device=device)

    labels = torch.where(chosen, input_ids, IGNORE_INDEX)
    corrupted = torch.where(chosen & (action < REPLACE_WITH_MASK), mask_id, input_ids)
    use_random = chosen & (action >= REPLACE_WITH_MASK) & (action < REPLACE_WITH_MASK + REPLACE_WITH_RANDOM)
    corrupted = torch.where(use_random, random_tokens, corrupted)
    return corrupted, labels
