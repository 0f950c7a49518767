"""The builder over many random genomes: output shape, no NaN, every parameter gets a gradient."""

import pickle

import numpy as np
import pytest
import torch

from evonas.genomes import (
    Genome,
    SearchSpace,
    build_autoencoder,
    count_parameters,
    forward_macs,
    random_genome,
)

CASES = [((1, 8, 8), 25), ((1, 28, 28), 12), ((3, 32, 32), 8), ((1, 13, 17), 8)]


@pytest.mark.parametrize(("shape", "n"), CASES)
def test_random_genomes_build_and_train(shape, n):
    space = SearchSpace.preset_for(shape).model_copy(update={"max_channels": 32, "max_params": 300_000})
    rng = np.random.default_rng(sum(shape))
    torch.manual_seed(0)
    for _ in range(n):
        g = random_genome(space, shape, rng)
        model = build_autoencoder(g, shape)
        x = torch.rand(3, *shape)
        out = model(x)
        assert out.shape == x.shape, g.compact()
        assert torch.isfinite(out).all() and (out >= 0).all() and (out <= 1).all(), g.compact()
        assert model.encode(x).shape == (3, g.latent_dim)
        torch.nn.functional.mse_loss(out, x).backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"{g.compact()}: {name}"
            assert p.grad.abs().sum() > 0, f"{g.compact()}: {name} got a zero gradient"
        assert count_parameters(g, shape) == sum(p.numel() for p in model.parameters())


def test_decoder_mirrors_the_encoder():
    model = build_autoencoder(Genome.from_compact("c32k3-bn-pmax-c64k5-pavg-d16"), (1, 28, 28))
    kinds = [type(m).__name__ for m in model.decoder]
    assert kinds == [
        "Linear", "ReLU", "Unflatten", "Upsample", "Conv2d", "ReLU", "Upsample", "Conv2d", "Sigmoid",
    ]  # fmt: skip
    assert [type(m).__name__ for m in model.encoder][:3] == ["Conv2d", "BatchNorm2d", "ReLU"]


def test_builder_is_pure_given_the_seed():
    g = Genome.from_compact("c16k3-pmax-c8k5e-d8")
    torch.manual_seed(1)
    a = build_autoencoder(g, (1, 8, 8))
    torch.manual_seed(1)
    b = build_autoencoder(g, (1, 8, 8))
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_genome_and_model_survive_pickling():
    g = Genome.from_compact("c16k3-bn-pmax-d8")
    assert pickle.loads(pickle.dumps(g)) == g
    assert pickle.loads(pickle.dumps(g)).hash == g.hash
    model = build_autoencoder(g, (1, 8, 8))
    x = torch.rand(2, 1, 8, 8)
    model.eval()
    assert torch.equal(pickle.loads(pickle.dumps(model)).eval()(x), model(x))


def _counted_macs(model: torch.nn.Module, shape) -> int:
    """Multiply-accumulates of every Conv2d and Linear layer, counted on a real forward pass."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            total += output[0].numel() * module.in_channels * kh * kw
        else:
            total += module.in_features * module.out_features

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            m.register_forward_hook(hook)
    model.eval()
    with torch.no_grad():
        model(torch.rand(1, *shape))
    return total


@pytest.mark.parametrize(("shape", "n"), CASES)
def test_the_cost_estimate_counts_what_the_model_computes(shape, n):
    assert forward_macs(Genome.from_compact("c128k3-pmax-c64k3-pmax-c32k3-pmax-d512"), (1, 28, 28)) == 2 * (
        1 * 128 * 9 * 28 * 28 + 128 * 64 * 9 * 14 * 14 + 64 * 32 * 9 * 7 * 7 + 32 * 3 * 3 * 512
    )
    space = SearchSpace.preset_for(shape).model_copy(update={"max_channels": 32, "max_params": 300_000})
    rng = np.random.default_rng(7 + sum(shape))
    for _ in range(n):
        g = random_genome(space, shape, rng)
        assert forward_macs(g, shape) == _counted_macs(build_autoencoder(g, shape), shape), g.compact()
