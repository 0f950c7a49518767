"""Export bundles: model.py rebuilt outside evonas, exact weights, clear errors."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file

from evonas.errors import NASError
from evonas.export import model_source, read_bundle, write_bundle
from evonas.genomes import Genome, build_autoencoder

GENOMES = ["c32k3-bn-pmax-c64k5l-pavg-d16", "c8k3e-c16k5t-bn-d4", "c16k3-pmax-pmax-pmax-d8"]


@pytest.mark.parametrize("compact", GENOMES)
def test_model_source_rebuilds_the_same_model(compact):
    genome = Genome.from_compact(compact)
    namespace: dict = {}
    exec(compile(model_source(genome, (1, 28, 28)), "model.py", "exec"), namespace)
    ours = build_autoencoder(genome, (1, 28, 28)).eval()
    theirs = namespace["build_model"]().eval()
    theirs.load_state_dict(ours.state_dict())  # strict: same keys and shapes
    x = torch.rand(3, 1, 28, 28)
    # the same layers and weights; oneDNN may pick another convolution algorithm between two
    # calls, which moves the last bits (seen once in a few hundred runs), so not bit-equality
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.encode(x), theirs.encode(x), rtol=1e-5, atol=1e-6)


def _bundle(tmp_path, compact="c16k3-bn-pmax-d8", shape=(1, 8, 8)):
    genome = Genome.from_compact(compact)
    torch.manual_seed(0)
    model = build_autoencoder(genome, shape)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    return write_bundle(tmp_path / "bundle", genome, shape, weights, {"metrics": {"acc": 0.5}}), model


def test_bundle_files_and_genome_json(tmp_path):
    bundle, _ = _bundle(tmp_path)
    assert sorted(p.name for p in bundle.directory.iterdir()) == [
        "genome.json",
        "model.py",
        "model.safetensors",
    ]
    doc = json.loads((bundle.directory / "genome.json").read_text())
    assert doc["input_shape"] == [1, 8, 8] and doc["latent_dim"] == 8 and doc["bundle_format"] == 1
    assert doc["compact"] == "c16k3-bn-pmax-d8" and doc["metrics"] == {"acc": 0.5} and doc["evonas_version"]
    again = read_bundle(bundle.directory)
    assert again.genome == bundle.genome and again.input_shape == (1, 8, 8)


def test_the_bundle_trains_where_evonas_is_not_importable(tmp_path):
    bundle, model = _bundle(tmp_path)
    x = torch.rand(64, 1, 8, 8)
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        expected = model.eval()(x)
    torch.save(expected, tmp_path / "expected.pt")
    script = textwrap.dedent(f"""
        import sys
        sys.modules["evonas"] = None  # any import of evonas now fails
        sys.path.insert(0, {str(bundle.directory)!r})
        import torch
        from model import build_model, load_model
        model = load_model()
        x = torch.load({str(tmp_path / "x.pt")!r})
        with torch.no_grad():
            assert torch.equal(model.eval()(x), torch.load({str(tmp_path / "expected.pt")!r}))
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(30):
            loss = torch.nn.functional.mse_loss(model(x), x)
            opt.zero_grad(); loss.backward(); opt.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0], losses
        assert build_model()(x).shape == x.shape
        assert not [m for m in sys.modules if m.startswith("evonas") and sys.modules[m] is not None]
        print("ok", losses[0], losses[-1])
    """)
    out = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_model_py_imports_only_torch_stdlib_and_safetensors(tmp_path):
    bundle, _ = _bundle(tmp_path)
    tree = ast.parse((bundle.directory / "model.py").read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {m.split(".")[0] for m in modules} == {"__future__", "pathlib", "torch", "safetensors"}


def test_reading_something_that_is_not_a_bundle(tmp_path):
    with pytest.raises(NASError, match="genome.json is missing"):
        read_bundle(tmp_path)
    (tmp_path / "genome.json").write_text('{"genome": 3}')
    with pytest.raises(NASError, match="not a valid bundle file"):
        read_bundle(tmp_path)
