"""The batch order of llmkit's Accelerator loops: which in-memory rows each process reads at each step.

Epoch e is one permutation of the rows seeded by (seed, e), and the order reads on across epoch ends, so
every batch is full and no row is dropped (a compiled model sees one shape; batch norm never sees a tiny
batch). A step's rows are a pure function of (seed, step): a run resumed at step k needs no data-loader
state and reads what the uninterrupted run would have read.
"""

from __future__ import annotations

import math
from typing import Any


class SeededBatches:
    """Row indices of `n` rows for each (step, micro-batch, rank).

    A step reads `rows_per_step` = batch_size x grad_accum x world_size rows of the order: micro-batch m of
    process r gets the `batch_size` rows at offset (m x world_size + r) x batch_size, so the processes read
    disjoint shards and together read every row of the step once.
    """

    def __init__(self, n: int, batch_size: int, seed: int, *, grad_accum: int = 1, world_size: int = 1,
                 rank: int = 0, device: Any = None):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.grad_accum, self.world_size, self.rank = grad_accum, world_size, rank
        self.device = device
        self.rows_per_step = batch_size * grad_accum * world_size
        self._orders: dict[int, tuple[Any, Any]] = {}

    def rows(self, step: int, micro: int = 0, rank: int | None = None, on_device: bool = True) -> Any:
        """Indices of the rows that micro-batch `micro` of `step` reads on process `rank` (default: this one),
        on `device` (or on the host with on_device=False).

        The indices are slices of the order with bounds known on the host, so a step never waits for the
        GPU (a host-to-device copy of indices would synchronise the stream every step).
        """
        import torch

        rank = self.rank if rank is None else rank
        first = step * self.rows_per_step + (micro * self.world_size + rank) * self.batch_size
        last = first + self.batch_size
        pieces = []
        for epoch in range(first // self.n, (last - 1) // self.n + 1):
            start, stop = max(first, epoch * self.n) - epoch * self.n, min(last, (epoch + 1) * self.n) - epoch * self.n
            pieces.append(self._epoch_order(epoch)[1 if on_device else 0][start:stop])
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces)

    def steps_for(self, epochs: float) -> int:
        """Optimizer steps that read `epochs` passes over the rows (at least one)."""
        return max(1, math.ceil(epochs * self.n / self.rows_per_step))

    def _epoch_order(self, epoch: int) -> tuple[Any, Any]:
        """(on the host, on `device`) permutation of the rows for `epoch`, drawn from (seed, epoch)."""
        import torch

        if epoch not in self._orders:
            self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}  # at most two epochs live
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + epoch))
            device = torch.device(self.device or "cpu")
            # From pinned memory the copy is asynchronous: a new epoch does not make the host wait either.
            on_device = order.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else order
            self._orders[epoch] = (order, on_device)
        return self._orders[epoch]
