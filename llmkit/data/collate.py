"""Padding-free batches for SFT: examples packed back to back into a few rows, never attending to each other.

transformers' `DataCollatorWithFlattening` puts a whole batch into one row. With flash attention that
is free, but SDPA and eager attention (CPU, most consumer GPUs) then compute a full L x L masked
attention over the batch's total length L, which costs more than the padding it saves (measured in
bench/finetune_speed.py). Here examples are packed first-fit-decreasing into rows of at most
`row_tokens`, so attention stays row_tokens² per row while almost no padding is computed.
Position ids restart at every example; transformers turns that into a block-diagonal causal mask
(masking_utils.find_packed_sequence_indices) when no attention_mask is passed and no KV cache is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.data.packing import IGNORE_INDEX


@dataclass
class PackedRowsCollator:
    pad_token_id: int
    row_tokens: int

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        rows: list[list[dict[str, Any]]] = []
        used: list[int] = []
        for example in sorted(features, key=lambda f: len(f["input_ids"]), reverse=True):
            size = len(example["input_ids"])
            for i in range(len(rows)):
                if used[i] + size <= self.row_tokens:
                    rows[i].append(example)
                    used[i] += size
                    break
            else:
                rows.append([example])
                used.append(size)
        width = max(used)
        input_ids, labels, position_ids = [], [], []
        for row, size in zip(rows, used):
            padding = width - size
            input_ids.append([t for ex in row for t in ex["input_ids"]] + [self.pad_token_id] * padding)
            # An example's first token would be "predicted" from the previous example's last one: never learn it.
            labels.append([t for ex in row for t in [IGNORE_INDEX, *ex["labels"][1:]]] + [IGNORE_INDEX] * padding)
            # The padding tail restarts at 0 too, so it is a segment of its own that no real token sees.
            position_ids.append([p for ex in row for p in range(len(ex["input_ids"]))] + list(range(padding)))
        return {"input_ids": torch.tensor(input_ids), "labels": torch.tensor(labels),
                "position_ids": torch.tensor(position_ids)}
