"""Pack tokenised documents into fixed-size blocks for language-model pretraining."""

from __future__ import annotations

from collections.abc import Iterable

IGNORE_INDEX = -100  # label value that the loss skips (transformers' convention)


def pack_into_blocks(documents: Iterable[list[int]], block_size: int, eos_id: int,
                     pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    """Concatenate documents with EOS after each and cut the stream into blocks of `block_size`.

    Unlike transformers' run_clm `group_texts`, every document ends in EOS (so the model learns where
    documents stop) and the remainder is kept: the last block is padded and its padding is not learned.
    Returns (input_ids blocks, labels blocks).
    """
    stream: list[int] = []
    for doc in documents:
        stream.extend(doc)
        stream.append(eos_id)
    inputs, labels = [], []
    for start in range(0, len(stream), block_size):
        block = stream[start:start + block_size]
        padding = block_size - len(block)
        inputs.append(block + [pad_id] * padding)
        labels.append(block + [IGNORE_INDEX] * padding)
    return inputs, labels
