"""Mini-batches: shuffled index slices of device tensors, seeded, no DataLoader."""

from __future__ import annotations

import torch

from tuneforge.data import Batches


def _xy(n=10):
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1).repeat(1, 3)
    return x, torch.arange(n)


def test_each_epoch_visits_every_row_once_in_a_new_order():
    x, y = _xy(10)
    batches = Batches(x, y, batch_size=4, seed=0)
    assert len(batches) == 3
    orders = []
    for _ in range(3):
        parts = list(batches)
        assert [len(b[1]) for b in parts] == [4, 4, 2]
        seen = torch.cat([b[1] for b in parts])
        assert sorted(seen.tolist()) == list(range(10))
        for bx, by in parts:  # x rows travel with their y
            assert torch.equal(bx[:, 0].long(), by)
        orders.append(seen.tolist())
    assert orders[0] != orders[1] != orders[2]


def test_order_is_a_seeded_torch_permutation():
    x, y = _xy(10)
    first = torch.cat([b for _, b in Batches(x, y, 3, seed=5)])
    reference = torch.randperm(10, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, reference)
    assert torch.equal(first, torch.cat([b for _, b in Batches(x, y, 3, seed=5)]))
    assert not torch.equal(first, torch.cat([b for _, b in Batches(x, y, 3, seed=6)]))


def test_generator_state_restores_the_next_order():
    x, y = _xy(12)
    batches = Batches(x, y, 5, seed=1)
    list(batches)
    state = batches.generator.get_state()
    expected = torch.cat([b for _, b in batches])
    fresh = Batches(x, y, 5, seed=99)
    fresh.generator.set_state(state)
    assert torch.equal(torch.cat([b for _, b in fresh]), expected)


def test_full_batch_is_the_whole_set_unshuffled_and_uses_no_randomness():
    x, y = _xy(7)
    batches = Batches(x, y, None, seed=0)
    before = batches.generator.get_state()
    (only,) = list(batches)
    assert only[0] is x and only[1] is y
    assert torch.equal(batches.generator.get_state(), before)
    assert len(Batches(x, y, 100, seed=0)) == 1  # a batch larger than the data is the full batch


def test_batches_do_not_use_a_dataloader(monkeypatch):
    import torch.utils.data as tud

    def forbidden(*args, **kwargs):
        raise AssertionError("DataLoader used")

    monkeypatch.setattr(tud, "DataLoader", forbidden)
    x, y = _xy(9)
    assert sum(len(b) for _, b in Batches(x, y, 2, seed=0)) == 9
