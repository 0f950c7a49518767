"""Plain PyTorch source for a genome's autoencoder: the `model.py` of an exported bundle.

The source is generated from the very modules :func:`build_autoencoder` builds, so its
state-dict keys and shapes match the evaluated model's exactly; it imports only torch,
the standard library and (to load weights) safetensors.
"""

from __future__ import annotations

from torch import nn

from evonas import __version__
from evonas.genomes import Genome, build_autoencoder


def module_source(m: nn.Module) -> str:
    """A constructor call for one layer, with only the arguments that differ from the defaults."""
    if isinstance(m, nn.Conv2d):
        k, p = m.kernel_size[0], m.padding[0]  # type: ignore[index]
        return f"nn.Conv2d({m.in_channels}, {m.out_channels}, {k}, padding={p}, bias={m.bias is not None})"
    if isinstance(m, nn.BatchNorm2d):
        return f"nn.BatchNorm2d({m.num_features})"
    if isinstance(m, nn.MaxPool2d):
        return "nn.MaxPool2d(2)"
    if isinstance(m, nn.AvgPool2d):
        return "nn.AvgPool2d(2)"
    if isinstance(m, nn.Linear):
        return f"nn.Linear({m.in_features}, {m.out_features})"
    if isinstance(m, nn.Flatten):
        return "nn.Flatten()"
    if isinstance(m, nn.Unflatten):
        return f"nn.Unflatten(1, {tuple(m.unflattened_size)})"
    if isinstance(m, nn.Upsample):
        return f"nn.Upsample(size={tuple(m.size)}, mode={m.mode!r})"  # type: ignore[arg-type]
    if isinstance(m, nn.LeakyReLU):
        return f"nn.LeakyReLU({m.negative_slope})"
    if isinstance(m, nn.ELU | nn.ReLU | nn.Tanh | nn.Sigmoid):
        return f"nn.{type(m).__name__}()"
    raise TypeError(f"no source form for layer {type(m).__name__}")


def _sequential(model: nn.Sequential, indent: str) -> str:
    return "\n".join(f"{indent}{module_source(m)}," for m in model)


def model_source(genome: Genome, input_shape: tuple[int, int, int]) -> str:
    """The whole `model.py` text for ``genome`` on inputs of ``input_shape``."""
    model = build_autoencoder(genome, input_shape)
    c, h, w = input_shape
    return f'''"""Convolutional autoencoder {genome.compact()} (genome {genome.hash}),
exported by evonas {__version__}.

Plain PyTorch: needs only torch, and safetensors to load the exported weights.

    from model import build_model, load_model
    model = load_model()                # the weights from the search (model.safetensors)
    fresh = build_model()               # the same architecture, new weights
    z = model.encode(x)                 # x: float (N, {c}, {h}, {w}) in [0, 1]
    x_hat = model(x)                    # reconstruction, same shape as x
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

INPUT_SHAPE = {tuple(input_shape)}
LATENT_DIM = {genome.latent_dim}
GENOME = {genome.compact()!r}


class Autoencoder(nn.Module):
    """Encoder to a {genome.latent_dim}-dimensional code; decoder back to the input shape (sigmoid output)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
{_sequential(model.encoder, " " * 12)}
        )
        self.decoder = nn.Sequential(
{_sequential(model.decoder, " " * 12)}
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def build_model() -> Autoencoder:
    """The architecture with freshly initialised weights."""
    return Autoencoder()


def load_model(directory: str | Path | None = None, weights: str = "model.safetensors") -> Autoencoder:
    """The architecture with the weights in ``directory`` (default: this file's folder)."""
    from safetensors.torch import load_file

    folder = Path(directory) if directory is not None else Path(__file__).resolve().parent
    model = Autoencoder()
    model.load_state_dict(load_file(str(folder / weights)))
    return model
'''
