"""The augmentation tensor functions against scipy.ndimage, and their seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from sklearn.datasets import load_digits

from tuneforge.config.transforms import AugmentConfig
from tuneforge.data.augment import (
    Augmenter,
    cutout_at,
    flip,
    rotate_by,
    translate,
    translate_by,
)
from tuneforge.errors import ConfigError


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    x, _ = load_digits(return_X_y=True)
    return torch.as_tensor(x[:64], dtype=torch.float32).view(64, 1, 8, 8)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_translate_by_is_a_zero_filled_shift(digits):
    dy, dx = torch.tensor([1, -2, 0, 3]), torch.tensor([2, 0, -1, -3])
    out = translate_by(digits[:4], dy, dx)
    for b in range(4):
        ref = ndimage.shift(digits[b, 0].numpy(), (int(dy[b]), int(dx[b])), order=0, cval=0)
        np.testing.assert_array_equal(out[b, 0].numpy(), ref)


@pytest.mark.parametrize("shape", [(8, 8), (7, 10)])
def test_rotate_by_matches_scipy_rotate(shape):
    images = torch.rand(3, 2, *shape, generator=gen())
    degrees = torch.tensor([12.0, -30.0, 90.0])
    out = rotate_by(images, degrees)
    for b in range(3):
        for c in range(2):
            ref = ndimage.rotate(images[b, c].numpy(), float(degrees[b]), reshape=False, order=1,
                                 mode="grid-constant", cval=0)  # fmt: skip
            np.testing.assert_allclose(out[b, c].numpy(), ref, atol=1e-5)


def test_cutout_zeroes_exactly_the_square(digits):
    out = cutout_at(digits[:2] + 1, torch.tensor([2, -1]), torch.tensor([3, 6]), 3)
    expected = (digits[:2] + 1).clone()
    expected[0, :, 2:5, 3:6] = 0
    expected[1, :, 0:2, 6:8] = 0  # clipped at the border
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_flip_mirrors_about_half_the_images(digits):
    out = flip(digits, -1, gen())
    mirrored = [bool(torch.equal(o, d.flip(-1))) for o, d in zip(out, digits, strict=True)]
    kept = [bool(torch.equal(o, d)) for o, d in zip(out, digits, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 16 < sum(m and not k for m, k in zip(mirrored, kept, strict=True)) < 48


def test_translate_stays_within_its_range(digits):
    out = translate(digits, 1, gen(3))
    for o, d in zip(out, digits, strict=True):
        candidates = [translate_by(d[None], torch.tensor([i]), torch.tensor([j]))[0]
                      for i in (-1, 0, 1) for j in (-1, 0, 1)]  # fmt: skip
        assert any(torch.equal(o, c) for c in candidates)


CFG = AugmentConfig(image_shape=(1, 8, 8), translate=1, hflip=True, rotate=10, cutout=2, noise=0.3)


def test_same_seed_same_batches_other_seed_other_batches(digits):
    flat = digits.view(64, -1)
    a, b, c = (Augmenter(CFG, flat, seed) for seed in (7, 7, 8))
    first = [a.batch(flat) for _ in range(3)]
    assert all(
        torch.equal(x, y) for x, y in zip(first, [b.batch(flat) for _ in range(3)], strict=True)
    )
    assert not torch.equal(first[0], c.batch(flat))
    assert not torch.equal(first[0], first[1])  # a new draw every batch
    assert first[0].shape == flat.shape


def test_state_round_trip_replays_the_stream(digits):
    flat = digits.view(64, -1)
    aug = Augmenter(CFG.model_copy(update={"mixup": 0.4}), flat, 0)
    aug.batch(flat)
    saved = aug.state()
    expected = (aug.batch(flat), aug.mixup_lambda())
    other = Augmenter(CFG.model_copy(update={"mixup": 0.4}), flat, 99)
    other.load_state(saved)
    assert torch.equal(other.batch(flat), expected[0]) and other.mixup_lambda() == expected[1]


def test_mixup_lambda_follows_beta():
    aug = Augmenter(AugmentConfig(mixup=0.4), torch.zeros(4, 3), 0)
    draws = np.array([aug.mixup_lambda() for _ in range(4000)])
    assert draws.mean() == pytest.approx(0.5, abs=0.02)
    assert draws.var() == pytest.approx(0.25 / (2 * 0.4 + 1), rel=0.08)  # Beta(a, a) variance


def test_mixup_loss_is_the_lambda_mix_of_the_two_labels_losses():
    x, y = torch.randn(8, 3, generator=gen(1)), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    model = torch.nn.Linear(3, 3)
    per_sample = torch.nn.CrossEntropyLoss(reduction="none")
    aug = Augmenter(AugmentConfig(mixup=1.0), x, 5)
    replay = Augmenter(AugmentConfig(mixup=1.0), x, 5)
    got = aug.mean_loss(model, x, y, lambda p, t: per_sample(p, t).mean())
    lam = replay.mixup_lambda()
    perm = torch.randperm(8, generator=replay.generator)
    pred = model(lam * x + (1 - lam) * x[perm])
    expected = (lam * per_sample(pred, y) + (1 - lam) * per_sample(pred, y[perm])).mean()
    torch.testing.assert_close(got, expected)
    assert 0 < lam < 1


def test_image_ops_on_flat_rows_need_a_matching_image_shape():
    with pytest.raises(ConfigError, match=r"train\.augment\.image_shape: translate"):
        Augmenter.build(AugmentConfig(translate=1), torch.zeros(4, 64), 0)
    with pytest.raises(ConfigError, match=r"train\.augment\.image_shape: \[1, 8, 7\] holds 56"):
        Augmenter.build(AugmentConfig(image_shape=(1, 8, 7), rotate=5), torch.zeros(4, 64), 0)
    assert Augmenter.build(AugmentConfig(), torch.zeros(4, 64), 0) is None  # nothing on
    four_d = Augmenter.build(AugmentConfig(rotate=5), torch.zeros(4, 3, 6, 6), 0)
    assert four_d.shape == (3, 6, 6)
