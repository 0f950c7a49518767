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
