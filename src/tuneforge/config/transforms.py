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
    degree: Annotated[int, Field(ge=2, le=4)] = Field(
        2,
        description="highest degree of the polynomial features",
    )
    interaction_only: bool = Field(
        False,
        description="only products of distinct features (no powers)",
    )


class SelectConfig(_Strict):
    k: PositiveInt = Field(20, description="features kept")
    #: f_test: ANOVA F (classification) / F-regression; mutual_info: mutual information;
    #: linear: largest |coefficient| of a logistic/ridge fit; forest: random-forest importances.
    score: Literal["f_test", "mutual_info", "linear", "forest"] = Field(
        "f_test",
        description="f_test (ANOVA F / F-regression), mutual_info, linear (largest |coefficient|) or forest (random-forest importances)",
    )


class PCAConfig(_Strict):
    #: An integer keeps that many components; a fraction in (0, 1) keeps the fewest components
    #: whose explained variance reaches it.
    components: PositiveInt | Annotated[float, Field(gt=0, lt=1)] = Field(
        0.95,
        description="an integer keeps that many components; a fraction in (0, 1) the fewest whose explained variance reaches it",
    )
    whiten: bool = Field(False, description="scale the components to unit variance")


class PrepConfig(_Strict):
    """Steps after the encoding, always in this order: polynomial -> select -> pca."""

    polynomial: PolynomialConfig | None = Field(
        None,
        description="polynomial and interaction features",
    )
    select: SelectConfig | None = Field(None, description="keep the k best features")
    pca: PCAConfig | None = Field(None, description="principal components")


# ---------------------------------------------------------------------------- train.augment
class AugmentConfig(_Strict):
    """Random changes to training batches only; evaluation always sees the data as it is."""

    seed: int | None = Field(None, description="seed of the random changes; null: train.seed")
    #: (C, H, W) to view flat feature rows as images; None with 4-D image data uses its shape.
    image_shape: tuple[PositiveInt, PositiveInt, PositiveInt] | None = Field(
        None,
        description="(C, H, W) to view flat feature rows as images; null: 4-D image data's own shape",
    )
    translate: Annotated[int, Field(ge=0)] = Field(
        0,
        description="largest shift in pixels, each axis",
    )
    hflip: bool = Field(False, description="random horizontal flips")
    vflip: bool = Field(False, description="random vertical flips")
    rotate: NonNegFloat = Field(
        0.0,
        description="largest rotation in degrees, either way (at most 180)",
    )
    cutout: Annotated[int, Field(ge=0)] = Field(
        0,
        description="side of a zeroed square, in pixels; 0: none",
    )
    noise: NonNegFloat = Field(
        0.0,
        description="std of Gaussian noise added to the encoded features",
    )
    mixup: NonNegFloat = Field(0.0, description="alpha of Beta(alpha, alpha) for mixup; 0: off")

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
