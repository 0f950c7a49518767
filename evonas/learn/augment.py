"""Random affine augmentation and denoising noise for reconstruction training, on whole batches.

Each image gets its own shift, rotation and zoom (``affine_grid`` + ``grid_sample``, which cost
nothing measurable per epoch on the CPU); the network sees the transformed image with Gaussian
noise added and learns to output the transformed image without it. Draws come from a
``torch.Generator`` seeded by the caller, so a seeded training run repeats exactly.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from evonas.values import Augmentation

__all__ = ["Augmentation", "augment_batch", "random_affine"]


def augment_batch(
    augment: Augmentation, batch: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, target) for one training batch of shape (N, C, H, W) in [0, 1]."""
    target = batch
    if augment.shift or augment.rotation or augment.zoom:
        target = random_affine(batch, augment.shift, augment.rotation, augment.zoom, gen)
    inputs = target
    if augment.noise:
        noise = torch.randn(target.shape, generator=gen, device="cpu").to(target.device)
        inputs = (target + augment.noise * noise).clamp(0.0, 1.0)
    return inputs, target


def random_affine(
    x: torch.Tensor, shift: float, rotation: float, zoom: float, gen: torch.Generator
) -> torch.Tensor:
    """Each image of ``x`` shifted, rotated and zoomed by its own uniform draw; empty border zero."""
    n = x.shape[0]

    def uniform(scale: float) -> torch.Tensor:
        return (torch.rand(n, generator=gen) * 2 - 1) * scale

    angle = uniform(math.radians(rotation))
    scale = 1.0 + uniform(zoom)  # > 1 zooms out in grid coordinates: sample a wider area
    tx, ty = uniform(2 * shift), uniform(2 * shift)  # grid coordinates span [-1, 1]
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    theta = theta.to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x.contiguous(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return out.contiguous(memory_format=torch.channels_last)  # keep the caller's fast layout
    return out
