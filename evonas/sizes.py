"""What counts as large images: the one rule behind the 28x28 preset, the search space's ranges,
the training budget and the channels_last memory format.

Images whose smaller side is at least ``LARGE_SIDE`` pixels (16x16 USPS, 28x28 MNIST, 32x32 CIFAR)
are large; smaller ones (the built-in 8x8 digits) are small.
"""

from __future__ import annotations

LARGE_SIDE = 16


def is_large(input_shape: tuple[int, int, int]) -> bool:
    """Whether images of this (C, H, W) shape are large (smaller side >= ``LARGE_SIDE``)."""
    return min(input_shape[1], input_shape[2]) >= LARGE_SIDE
