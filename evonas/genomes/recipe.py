"""The training recipe a genome carries besides its layers: what the CAE is trained with.

Measured on Fashion-MNIST, how a CAE is trained moves its clustering quality as much as its
layers do (random affine augmentation and longer training lifted one genome by 0.04-0.07 ACC, and
helped one genome while hurting another), so the recipe evolves with the architecture.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evonas.errors import InvalidGenomeError
from evonas.values import Augmentation

Augment = Literal["none", "weak", "medium", "strong"]
AUGMENTS: tuple[Augment, ...] = ("none", "weak", "medium", "strong")
# random affine per image: (largest shift as a share of the side, largest rotation in degrees,
# largest zoom as a share); "medium" is the setting of the EDCWRN authors' notebook
AFFINE: dict[str, tuple[float, float, float]] = {
    "none": (0.0, 0.0, 0.0),
    "weak": (0.05, 5.0, 0.05),
    "medium": (0.1, 10.0, 0.1),
    "strong": (0.15, 15.0, 0.15),
}
NOISES = (0.0, 0.1, 0.2, 0.3)
LEARNING_RATES = (3e-4, 1e-3, 3e-3)  # images of 16x16 and more
SMALL_LEARNING_RATES = (
    1e-3,
    3e-3,
    1e-2,
)  # smaller images (the 8x8 digits: their budget's 3e-3 in the middle)


class Recipe(BaseModel):
    """How a candidate is trained: augmentation strength, denoising noise, Adam's learning rate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    augment: Augment = Field("none", description="Random affine augmentation of the training images.")
    noise: float = Field(
        0.0, ge=0, le=1, description="Std of the Gaussian noise added to inputs (the target stays clean)."
    )
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate (replaces the budget's).")

    @property
    def affine(self) -> tuple[float, float, float]:
        return AFFINE[self.augment]

    def augmentation(self, augment: Augment | None = None, noise: float | None = None) -> Augmentation:
        """The training transform this recipe asks for; ``augment`` or ``noise`` replace its own."""
        shift, rotation, zoom = AFFINE[augment or self.augment]
        return Augmentation(shift, rotation, zoom, self.noise if noise is None else noise)

    def compact(self) -> str:
        """``aug:medium,noise:0.1,lr:0.001``."""
        return f"aug:{self.augment},noise:{self.noise:g},lr:{self.lr:g}"

    @classmethod
    def from_compact(cls, text: str) -> Recipe:
        names = {"aug": "augment", "noise": "noise", "lr": "lr"}
        try:
            pairs = [item.split(":", 1) for item in text.split(",") if item]
            values = {names[k]: v for k, v in pairs}
            return cls.model_validate(values)
        except (ValueError, KeyError, ValidationError) as exc:
            raise InvalidGenomeError(
                f"Cannot parse the recipe {text!r} (expected e.g. aug:medium,noise:0.1,lr:0.001): {exc}"
            ) from None
