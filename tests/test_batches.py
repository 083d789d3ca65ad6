"""The seeded batch order of the Accelerator loops: a pure function of (seed, step), disjoint shards per rank,
every batch full across epoch ends."""

import torch

from llmkit.training.batches import SeededBatches


def _step_rows(batches: SeededBatches, step: int) -> list[list[int]]:
    """Each (micro-batch, rank) slice of one step, as on the host."""
    return [batches.rows(step, micro, rank, on_device=False).tolist()
            for micro in range(batches.grad_accum) for rank in range(batches.world_size)]


def test_the_same_seed_gives_the_same_order_and_another_seed_another():
    a, b, c = (SeededBatches(50, 4, seed) for seed in (1, 1, 2))
    steps = range(30)  # more than two epochs of 12.5 steps
    assert [a.rows(s).tolist() for s in steps] == [b.rows(s).tolist() for s in steps]
    assert [a.rows(s).tolist() for s in steps] != [c.rows(s).tolist() for s in steps]
    # a fresh object at step k (a resumed run) reads what the one that got there reads
    assert SeededBatches(50, 4, 1).rows(23).tolist() == a.rows(23).tolist()


def test_ranks_read_disjoint_shards_that_together_cover_each_epoch():
    n, batch_size = 48, 3
    ranks = [SeededBatches(n, batch_size, 7, grad_accum=2, world_size=2, rank=r) for r in range(2)]
    assert ranks[0].rows_per_step == 12 and ranks[0].steps_for(1.0) == 4
    epoch = []
    for step in range(4):
        mine = [ranks[r].rows(step, micro).tolist() for micro in range(2) for r in range(2)]
        assert mine == _step_rows(ranks[0], step)  # any rank can say what the others read (tokens are counted so)
        flat = [i for shard in mine for i in shard]
        assert all(len(shard) == batch_size for shard in mine) and len(set(flat)) == len(flat)
        epoch += flat
    assert sorted(epoch) == list(range(n))  # one epoch: every row once, over all ranks and micro-batches


def test_the_order_reads_on_across_epoch_ends_so_every_batch_is_full():
    batches = SeededBatches(10, 4, 0)
    rows = [batches.rows(step).tolist() for step in range(5)]  # 20 rows: two epochs of 10
    assert all(len(r) == 4 for r in rows)
    flat = [i for r in rows for i in r]
    assert sorted(flat[:10]) == sorted(flat[10:]) == list(range(10))
    assert flat[:10] == torch.randperm(10, generator=torch.Generator().manual_seed(0)).tolist()
    assert flat[:10] != flat[10:]  # each epoch its own permutation
    assert batches.steps_for(1.0) == 3 and batches.steps_for(0.01) == 1
