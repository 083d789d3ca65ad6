"""What each process of a data-parallel run did, for the run record: the rows it trained on and a
checksum of its trained weights at the end.

Data parallelism is correct only if every rank saw its own share of the data and all ranks end with
the same weights; recording both makes that checkable after the fact (and the tests check it).
"""

from __future__ import annotations

import os
from typing import Any

from transformers import TrainerCallback

from llmkit.training import weights_are_sharded


class RankAudit(TrainerCallback):
    """Counts the rows each rank's model trains on and gathers a weight checksum from every rank at the end.

    Rows are counted by a hook on the model's forward in training mode, so they are counted whatever the
    data loader does (workers, sharding). `ranks` is filled on every rank after training.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.ranks: list[dict[str, Any]] = []
        self._hook: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        def count_rows(module: Any, positional: tuple, named: dict[str, Any]) -> None:
            if module.training:
                first = next((v for v in (*positional, *named.values()) if hasattr(v, "shape") and v.dim()), None)
                self.rows += int(first.shape[0]) if first is not None else 0

        self._hook = model.register_forward_pre_hook(count_rows, with_kwargs=True)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        import torch.distributed as dist

        self._hook.remove()
        mine = {"rank": int(os.environ.get("RANK", "0")), "rows": self.rows,
                "weights_checksum": None if weights_are_sharded() else weights_checksum(model)}
        if dist.is_available() and dist.is_initialized():
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, mine)
            self.ranks = sorted(gathered, key=lambda r: r["rank"])
        else:
            self.ranks = [mine]

    def summary(self) -> dict[str, Any]:
        """`ranks` and whether every rank ended with the same weights (None when the weights are sharded)."""
        sums = [r["weights_checksum"] for r in self.ranks]
        return {"ranks": self.ranks, "replicas_in_sync": None if None in sums else len(set(sums)) == 1}


def weights_checksum(model: Any) -> str:
    """Sum and sum of squares of the trainable weights, accumulated in float64: equal on every rank iff the
    replicas agree (bit-identical tensors reduce to identical numbers); cheap on a GPU, unlike hashing every
    byte. Reduced where the weights live, with no float64 copy of a tensor and one copy to the host."""
    import torch

    with torch.no_grad():
        sums = [torch.stack([p.sum(dtype=torch.float64), (p * p).sum(dtype=torch.float64)])
                for p in model.parameters() if p.requires_grad]
    total = torch.stack(sums).sum(0).cpu() if sums else torch.zeros(2, dtype=torch.float64)
    return f"{total[0].item():.17g}/{total[1].item():.17g}"

