"""``train.augment``: random changes to training batches, on the batch's device, seeded.

Our own tensor functions rather than torchvision: PyPI's torchvision does not install beside the
CPU torch wheel, and a handful of whole-batch tensor operations is all this needs (on a GPU they
run where the batch already is). Every image function takes ``[B, C, H, W]`` and a
``torch.Generator`` on the batch's device; flat feature rows are viewed as images through
``train.augment.image_shape``. Evaluation never goes through here, so validation and test
batches are the data as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from tuneforge.config.transforms import AugmentConfig
from tuneforge.errors import ConfigError

# Offsets so the augmentation streams never replay the batch-order stream of the same seed.
_DEVICE_STREAM, _HOST_STREAM = 0x5EED_0001, 0x5EED_0002


# ---------------------------------------------------------------- deterministic kernels
def translate_by(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Shift image ``b`` down by ``dy[b]`` and right by ``dx[b]`` pixels; vacated pixels are 0."""
    b, _, h, w = x.shape
    rows = torch.arange(h, device=x.device) - dy[:, None]  # source row of each output row
    cols = torch.arange(w, device=x.device) - dx[:, None]
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    out = x[
        batch,
        channel,
        rows.clamp(0, h - 1)[:, None, :, None],
        cols.clamp(0, w - 1)[:, None, None, :],
    ]
    return out * inside[:, None].to(x.dtype)


def rotate_by(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate image ``b`` by ``degrees[b]`` about its centre, bilinear, zeros outside.

    The same convention and values as ``scipy.ndimage.rotate(image, degrees, reshape=False,
    order=1, mode="grid-constant")``.
    """
    _, _, h, w = x.shape
    rad = degrees.to(x.dtype) * (math.pi / 180)
    cos, sin, zero = rad.cos(), rad.sin(), torch.zeros_like(rad)
    # affine_grid maps output to input positions in [-1, 1] coordinates; the h/w factors keep
    # the rotation rigid on non-square images.
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1),
                         torch.stack([sin * w / h, cos, zero], 1)], 1)  # fmt: skip
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def cutout_at(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int) -> torch.Tensor:
    """Zero a ``size``×``size`` square at (``top[b]``, ``left[b]``) of image ``b`` (clipped)."""
    _, _, h, w = x.shape
    rows = torch.arange(h, device=x.device)[None, :] - top[:, None]
    cols = torch.arange(w, device=x.device)[None, :] - left[:, None]
    square = ((rows >= 0) & (rows < size))[:, :, None] & ((cols >= 0) & (cols < size))[:, None, :]
    return x.masked_fill(square[:, None], 0)


# ------------------------------------------------------------------------ random ops
def _ints(low: int, high: int, n: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(low, high, (n,), generator=gen, device=gen.device)


def translate(x: torch.Tensor, most: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by whole pixels drawn uniformly from ``[-most, most]`` on each axis."""
    return translate_by(x, _ints(-most, most + 1, len(x), gen), _ints(-most, most + 1, len(x), gen))


def flip(x: torch.Tensor, dim: int, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image along ``dim`` with probability 1/2."""
    chosen = torch.rand(len(x), generator=gen, device=gen.device) < 0.5
    return torch.where(chosen[:, None, None, None], x.flip(dim), x)


def rotate(x: torch.Tensor, most: float, gen: torch.Generator) -> torch.Tensor:
    """Rotate each image by an angle drawn uniformly from ``[-most, most]`` degrees."""
    return rotate_by(x, (torch.rand(len(x), generator=gen, device=gen.device) * 2 - 1) * most)


def cutout(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Zero one ``size``-pixel square per image, its centre anywhere in the image."""
    _, _, h, w = x.shape
    top = _ints(0, h, len(x), gen) - size // 2
    return cutout_at(x, top, _ints(0, w, len(x), gen) - size // 2, size)


def gaussian_noise(x: torch.Tensor, std: float, gen: torch.Generator) -> torch.Tensor:
    return x + std * torch.randn(x.shape, generator=gen, device=gen.device, dtype=x.dtype)


#: train.augment key -> image op, applied in this order (then noise, then mixup).
IMAGE_OPS: dict[str, Callable] = {
    "hflip": lambda x, on, gen: flip(x, -1, gen),
    "vflip": lambda x, on, gen: flip(x, -2, gen),
    "rotate": rotate,
    "translate": translate,
    "cutout": cutout,
}


class Augmenter:
    """The configured ops with their two seeded streams (batch-device tensors, host scalars)."""

    def __init__(self, cfg: AugmentConfig, x_train: torch.Tensor, seed: int):
        self.cfg = cfg
        self.shape = self._image_shape(cfg, x_train)
        self.ops = [(IMAGE_OPS[k], getattr(cfg, k)) for k in IMAGE_OPS if getattr(cfg, k)]
        self.generator = torch.Generator(x_train.device).manual_seed(seed + _DEVICE_STREAM)
        self.host = torch.Generator().manual_seed(seed + _HOST_STREAM)  # mixup's λ, no sync

    @classmethod
    def build(cls, cfg: AugmentConfig | None, x_train: torch.Tensor, seed: int) -> Augmenter | None:
        """``None`` when nothing is switched on (the engine then skips augmentation entirely)."""
        if cfg is None or not cfg.active:
            return None
        return cls(cfg, x_train, seed if cfg.seed is None else cfg.seed)

    @staticmethod
    def _image_shape(cfg: AugmentConfig, x: torch.Tensor) -> tuple[int, ...] | None:
        if not x.is_floating_point():
            raise ConfigError("train.augment: token ids cannot be augmented (noise and mixup "
                              "need float features)")  # fmt: skip
        if x.ndim == 4:
            return tuple(x.shape[1:])
        if x.ndim == 3 and cfg.image_ops:
            raise ConfigError("train.augment: translate/flip/rotate/cutout need image data, "
                              "not sequences; use noise or mixup")  # fmt: skip
        if x.ndim == 3:
            return None
        if cfg.image_shape is None:
            if cfg.image_ops:
                raise ConfigError("train.augment.image_shape: translate/flip/rotate/cutout need "
                                  "image rows; give their [channels, height, width]")  # fmt: skip
            return None
        if math.prod(cfg.image_shape) != x.shape[1]:
            raise ConfigError(f"train.augment.image_shape: {list(cfg.image_shape)} holds "
                              f"{math.prod(cfg.image_shape)} values but a row has {x.shape[1]}")  # fmt: skip
        return tuple(cfg.image_shape)

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """The augmented training batch (same shape as ``x``); no mixup."""
        if self.ops:
            images = x.view(len(x), *self.shape)
            for op, setting in self.ops:
                images = op(images, setting, self.generator)
            x = images.reshape(x.shape)
        if self.cfg.noise:
            x = gaussian_noise(x, self.cfg.noise, self.generator)
        return x

    def mixup_lambda(self) -> float:
        """λ ~ Beta(α, α) by inverting its CDF at a uniform from the seeded host stream."""
        from scipy.special import betaincinv  # scipy (~0.2 s): imported where mixup draws

        alpha = self.cfg.mixup
        return float(betaincinv(alpha, alpha, float(torch.rand((), generator=self.host))))

    def mean_loss(
        self, model, x: torch.Tensor, y: torch.Tensor, mean_loss: Callable, rows: slice = slice(None)
    ) -> torch.Tensor:
        """The batch's mean loss after augmentation; with mixup, inputs are mixed and the loss is
        ``λ·loss(pred, y) + (1−λ)·loss(pred, y[perm])`` (Zhang et al. 2018).

        ``rows``: the model sees only these rows of the augmented batch (a DDP rank's shard);
        the whole batch is augmented, so every rank draws what one process would.
        """
        x = self.batch(x)
        if not self.cfg.mixup:
            return mean_loss(model(x[rows]), y[rows])
        lam = self.mixup_lambda()
        perm = torch.randperm(len(x), generator=self.generator, device=self.generator.device)
        pred = model((lam * x + (1 - lam) * x.index_select(0, perm))[rows])
        return lam * mean_loss(pred, y[rows]) + (1 - lam) * mean_loss(pred, y.index_select(0, perm)[rows])

    def state(self) -> dict[str, torch.Tensor]:
        return {"augment.device": self.generator.get_state(), "augment.host": self.host.get_state()}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(tensors["augment.device"])
        self.host.set_state(tensors["augment.host"])
