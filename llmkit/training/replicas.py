"""What each process of a data-parallel run did, for the run record: the rows it trained on and a
checksum of its trained weights at the end.

Data parallelism is correct only if every rank saw its own share of the data and all ranks end with
the same weights; recording both makes that checkable after the fact (and the tests check it). Trainer runs
record it through the `RankAudit` callback, the Accelerator loops by calling `audit_replicas` at the end.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from llmkit.distributed import rank, weights_are_sharded


def audit_replicas(rows: int, model: Any) -> dict[str, Any]:
    """The run record's replica audit: each rank's `rows` and weight checksum (None when the weights are
    sharded), gathered from every rank, and whether all ranks ended with the same weights (None when sharded).
    Every rank must call this."""
    import torch.distributed as dist

    mine = {"rank": rank(), "rows": rows,
            "weights_checksum": None if weights_are_sharded() else weights_checksum(model)}
    ranks: list[Any] = [mine]
    if dist.is_available() and dist.is_initialized():
        ranks = [None] * dist.get_world_size()
        dist.all_gather_object(ranks, mine)
        ranks.sort(key=lambda r: r["rank"])
    sums = [r["weights_checksum"] for r in ranks]
    return {"ranks": ranks, "replicas_in_sync": None if None in sums else len(set(sums)) == 1}


def batch_layout(world_size: int, per_device_batch_size: int, grad_accum: int) -> dict[str, int]:
    """World size and batch sizes: per device, and global (per device x gradient accumulation x processes)."""
    return {"world_size": world_size, "per_device_batch_size": per_device_batch_size, "grad_accum": grad_accum,
            "global_batch_size": per_device_batch_size * grad_accum * world_size}


class RankAudit(TrainerCallback):
    """Counts the rows each rank's model trains on and audits the replicas at the end of training.

    Rows are counted by a hook on the model's forward in training mode, so they are counted whatever the
    data loader does (workers, sharding). `audit` is filled on every rank after training.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.audit: dict[str, Any] = {}
        self._hook: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        def count_rows(module: Any, positional: tuple, named: dict[str, Any]) -> None:
            if module.training:
                first = next((v for v in (*positional, *named.values()) if hasattr(v, "shape") and v.dim()), None)
                self.rows += int(first.shape[0]) if first is not None else 0

        self._hook = model.register_forward_pre_hook(count_rows, with_kwargs=True)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._hook.remove()
        self.audit = audit_replicas(self.rows, model)


def distributed_summary(trainer: Any) -> dict[str, Any]:
    """For a Trainer run's record: the batch layout and, when the Trainer carries a RankAudit, what each rank did."""
    args = trainer.args
    audits = [c.audit for c in trainer.callback_handler.callbacks if isinstance(c, RankAudit)]
    return {**batch_layout(args.world_size, args.per_device_train_batch_size, args.gradient_accumulation_steps),
            **(audits[0] if audits else {})}


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
