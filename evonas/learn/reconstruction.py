"""Train an autoencoder on reconstruction (minibatch Adam on MSE) and encode images with it."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from evonas.learn.augment import Augmentation, augment_batch
from evonas.sizes import is_large


def prefers_channels_last(input_shape: tuple[int, int, int]) -> bool:
    """Whether training in the channels_last memory format pays for images of this (C, H, W)
    shape: on CPUs oneDNN's convolutions are faster from 16x16 on (bench/eval_speed.py)."""
    return is_large(input_shape)


class TrainingDiverged(Exception):
    """The training loss stopped being finite."""


class DeadlinePassed(Exception):
    """Training ran past its deadline (``time.perf_counter`` seconds)."""


def train_reconstruction(
    model: nn.Module,
    x: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
    on_epoch: Callable[[int, float], None] | None = None,
    deadline: float | None = None,
    augment: Augmentation | None = None,
) -> list[float]:
    """Minibatch Adam on MSE with the images in memory; returns the mean loss of each epoch.

    With ``augment``, each batch is transformed (and noised) as it says; its draws come from a
    generator seeded by ``rng``, so the run stays reproducible.

    ``on_epoch(epoch, mean_loss)`` is called after each epoch (epochs count from 1). Raises
    :class:`TrainingDiverged` when an epoch's loss is not finite, :class:`DeadlinePassed` past
    ``deadline``."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    transform = augment if augment is not None and augment.active else None
    # drawn only when used, so plain training consumes rng exactly as it always did
    gen = torch.Generator().manual_seed(int(rng.integers(2**62))) if transform is not None else None
    model.train()
    n = x.shape[0]
    history: list[float] = []
    for epoch in range(epochs):
        perm = torch.from_numpy(rng.permutation(n)).to(x.device)
        total = torch.zeros((), device=x.device)
        for i in range(0, n, batch_size):
            batch = x[perm[i : i + batch_size]]
            if batch.shape[0] < 2 and n >= 2:  # a batch of 1 breaks batchnorm
                continue
            if transform is not None and gen is not None:
                inputs, target = augment_batch(transform, batch, gen)
            else:
                inputs, target = batch, batch
            loss = nn.functional.mse_loss(model(inputs), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * batch.shape[0]
            if deadline is not None and time.perf_counter() > deadline:
                raise DeadlinePassed
        mean = float(total) / n
        history.append(mean)
        if not np.isfinite(mean):
            raise TrainingDiverged(f"diverged: training loss is {mean} in epoch {epoch + 1}")
        if on_epoch is not None:
            on_epoch(epoch + 1, mean)
    return history


@torch.no_grad()
def reconstruct_and_encode(model: nn.Module, x: torch.Tensor, batch: int) -> tuple[float, np.ndarray]:
    """The mean squared reconstruction error over ``x`` and its codes (float32, CPU)."""
    model.eval()
    sq, codes = 0.0, []
    for i in range(0, x.shape[0], batch):
        xb = x[i : i + batch]
        z = model.encode(xb)  # type: ignore[operator]
        sq += float(((model.decode(z) - xb) ** 2).sum())  # type: ignore[operator]
        codes.append(z.float().cpu())
    return sq / x.numel(), torch.cat(codes).numpy()


def state_dict_bytes(model: nn.Module) -> bytes:
    """The model's state dict as safetensors bytes (CPU tensors)."""
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
