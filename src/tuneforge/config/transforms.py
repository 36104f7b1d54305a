"""Schema of the feature transforms: ``data.prep`` (fitted, saved) and ``train.augment`` (random).

Kept apart from ``schema.py`` so that file stays a readable list of sections; ``schema`` imports
:class:`PrepConfig` and :class:`AugmentConfig` from here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

NonNegFloat = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ------------------------------------------------------------------------------- data.prep
class PolynomialConfig(_Strict):
    degree: Annotated[int, Field(ge=2, le=4)] = 2
    interaction_only: bool = False


class SelectConfig(_Strict):
    k: PositiveInt = 20
    #: f_test: ANOVA F (classification) / F-regression; mutual_info: mutual information;
    #: linear: largest |coefficient| of a logistic/ridge fit; forest: random-forest importances.
    score: Literal["f_test", "mutual_info", "linear", "forest"] = "f_test"


class PCAConfig(_Strict):
    #: An integer keeps that many components; a fraction in (0, 1) keeps the fewest components
    #: whose explained variance reaches it.
    components: PositiveInt | Annotated[float, Field(gt=0, lt=1)] = 0.95
    whiten: bool = False


class PrepConfig(_Strict):
    """Steps after the encoding, always in this order: polynomial -> select -> pca."""

    polynomial: PolynomialConfig | None = None
    select: SelectConfig | None = None
    pca: PCAConfig | None = None


# ---------------------------------------------------------------------------- train.augment
class AugmentConfig(_Strict):
    """Random changes to training batches only; evaluation always sees the data as it is."""

    seed: int | None = None  # None: train.seed
    #: (C, H, W) to view flat feature rows as images; None with 4-D image data uses its shape.
    image_shape: tuple[PositiveInt, PositiveInt, PositiveInt] | None = None
    translate: Annotated[int, Field(ge=0)] = 0  # max shift in pixels, each axis
    hflip: bool = False
    vflip: bool = False
    rotate: NonNegFloat = 0.0  # max angle in degrees, either way
    cutout: Annotated[int, Field(ge=0)] = 0  # side of the zeroed square, pixels
    noise: NonNegFloat = 0.0  # std of Gaussian noise added to the (encoded) features
    mixup: NonNegFloat = 0.0  # alpha of Beta(alpha, alpha); 0 turns mixup off

    @property
    def image_ops(self) -> bool:
        return bool(self.translate or self.hflip or self.vflip or self.rotate or self.cutout)

    @property
    def active(self) -> bool:
        return self.image_ops or bool(self.noise or self.mixup)

    @model_validator(mode="after")
    def _rotation_range(self) -> AugmentConfig:
        if self.rotate > 180:
            raise ValueError("rotate: expected at most 180 degrees")
        return self
