"""Mini-batches from tensors that already sit on the device.

Why not ``torch.utils.data.DataLoader``: for in-memory data it collates one sample at a time and
costs 10-300x the step itself on small models (pytorch#106704). Shuffling an index vector with a
seeded generator and slicing is all a tabular batch needs, and its state is one tensor to save.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class Batches:
    """Shuffled mini-batches of ``(x, y)``; ``batch_size=None`` gives the full batch, unshuffled.

    ``shuffle=False`` gives the batches in row order every epoch (the generator is never drawn).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int | None, seed: int,
                 shuffle: bool = True):  # fmt: skip
        self.x, self.y = x, y
        self.n = len(x)
        self.batch_size = min(batch_size or self.n, self.n)
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)  # CPU: same stream on every device

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def order(self) -> torch.Tensor:
        """This epoch's row order (advances the generator once per epoch)."""
        if self.batch_size == self.n or not self.shuffle:
            return torch.arange(self.n)
        return torch.randperm(self.n, generator=self.generator)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.batch_size == self.n:
            yield self.x, self.y
            return
        order = self.order().to(self.x.device)
        for start in range(0, self.n, self.batch_size):
            rows = order[start : start + self.batch_size]
            yield self.x.index_select(0, rows), self.y.index_select(0, rows)
