"""Dataset loaders on real files: the shared Fashion-MNIST, and small files written in each format."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evonas.datasets import load_dataset, search_splits
from evonas.datasets.loaders import IDX_FILES
from evonas.errors import DatasetError

FASHION = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "fashion-mnist"
ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def fashion_dir() -> Path:
    if not FASHION.is_dir():
        pytest.fail(
            f"Fashion-MNIST is expected at {FASHION} (../shared/datasets/fashion-mnist beside the repo)"
        )
    return FASHION


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    head = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape)
    data = head + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def small_idx_dir(tmp_path: Path, compress: bool = True) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "train_x": rng.integers(0, 256, (30, 28, 28)), "train_y": rng.integers(0, 10, 30),
        "test_x": rng.integers(0, 256, (10, 28, 28)), "test_y": rng.integers(0, 10, 10),
    }  # fmt: skip
    for key, stem in IDX_FILES.items():
        write_idx(tmp_path / (stem + (".gz" if compress else "")), arrays[key], compress)
    return tmp_path


def test_fashion_mnist_from_the_shared_folder():
    data = load_dataset("fashion-mnist", fashion_dir())
    assert data.x.shape == (70000, 1, 28, 28) and data.n_test == 10000 and data.n_classes == 10
    assert data.x.min() >= 0.0 and data.x.max() <= 1.0
    splits = search_splits(data, val_size=2000, test_fraction=0.2, subset=5000)
    assert (len(splits.train.x), len(splits.val.x), len(splits.test.x)) == (5000, 2000, 10000)
    assert splits.test.x.mean() == pytest.approx(0.2869, abs=1e-3)  # the official t10k split


@pytest.mark.parametrize("compress", [True, False])
def test_idx_files_gzip_or_not(tmp_path, compress):
    data = load_dataset("mnist", small_idx_dir(tmp_path, compress))
    assert data.x.shape == (40, 1, 28, 28) and data.n_test == 10 and data.x.dtype == np.float32


def test_idx_errors_name_the_file(tmp_path):
    folder = small_idx_dir(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"Missing t10k-labels-idx1-ubyte\.gz"):
        load_dataset("mnist", folder)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros((10, 2)))  # 2-d where 1-d is expected
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz is not an IDX file of 1-d.*magic"):
        load_dataset("mnist", folder)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x0a" + b"\x01" * 3)
    )
    with pytest.raises(DatasetError, match=r"holds 3 bytes of data, but its header \(10,\) says 10"):
        load_dataset("mnist", folder)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match="corrupt"):
        load_dataset("mnist", folder)


def test_missing_data_dir_points_to_download():
    with pytest.raises(DatasetError, match="pass --data-dir PATH.*nas data download fashion-mnist"):
        load_dataset("fashion-mnist")
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("fashion-mnist", Path("/nonexistent/folder"))


def test_cifar10_python_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for stem in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
            b"labels": list(rng.integers(0, 10, 4)),
        }
        (folder / stem).write_bytes(pickle.dumps(batch))
    data = load_dataset("cifar10", tmp_path)
    assert data.x.shape == (24, 3, 32, 32) and data.n_test == 4 and data.input_shape == (3, 32, 32)
    (folder / "test_batch").write_bytes(pickle.dumps({"wrong": 1}))
    with pytest.raises(DatasetError, match="test_batch is not a CIFAR-10 batch"):
        load_dataset("cifar10", tmp_path)


@pytest.mark.parametrize(
    ("shape", "dtype", "expected"),
    [
        ((6, 8, 8), np.uint8, (1, 8, 8)),
        ((6, 8, 8, 3), np.float32, (3, 8, 8)),
        ((6, 3, 8, 8), np.float64, (3, 8, 8)),
    ],
)
def test_npz_layouts(tmp_path, shape, dtype, expected):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, shape).astype(dtype) if dtype == np.uint8 else rng.random(shape).astype(dtype)
    np.savez(tmp_path / "set.npz", x=x, y=np.arange(6))
    data = load_dataset(str(tmp_path / "set.npz"))
    assert data.input_shape == expected and data.y is not None and data.x.dtype == np.float32
    assert data.x.min() >= 0.0 and data.x.max() <= 1.0


def test_npz_without_labels_and_bad_files(tmp_path):
    np.savez(tmp_path / "nolabels.npz", x=np.zeros((5, 8, 8), dtype=np.uint8))
    assert load_dataset(str(tmp_path / "nolabels.npz")).y is None
    np.savez(tmp_path / "nox.npz", images=np.zeros((5, 8, 8)))
    with pytest.raises(DatasetError, match=r"no array 'x' \(it has \['images'\]\)"):
        load_dataset(str(tmp_path / "nox.npz"))
    np.savez(tmp_path / "bady.npz", x=np.zeros((5, 8, 8)), y=np.arange(4))
    with pytest.raises(DatasetError, match="'y' must be 5 integer labels"):
        load_dataset(str(tmp_path / "bady.npz"))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="Cannot read .*junk.npz"):
        load_dataset(str(tmp_path / "junk.npz"))
    with pytest.raises(DatasetError, match="No file"):
        load_dataset(str(tmp_path / "missing.npz"))


def test_download_without_internet_fails_clearly(tmp_path):
    out = subprocess.run([sys.executable, "-m", "evonas.cli", "data", "download", "mnist", "--data-dir",
                          str(tmp_path)], capture_output=True, text=True, timeout=300, env=ENV)  # fmt: skip
    if out.returncode == 0:  # a machine with internet: the files must then load
        assert load_dataset("mnist", tmp_path).x.shape == (70000, 1, 28, 28)
        return
    assert out.returncode == 1 and "Cannot download" in out.stderr and "--data-dir" in out.stderr
    assert not list(tmp_path.glob("*.part"))


SMALL_SEARCH = """
population = 2
generations = 1
cpus = 2
keep_weights = 1
[dataset]
val_size = 300
[budget]
epochs = 1
batch_size = 64
kmeans_n_init = 1
[search_space]
max_channels = 16
max_convs = 2
max_latent = 16
"""


@pytest.mark.slow
def test_nas_run_on_fashion_mnist_and_on_a_custom_npz(tmp_path):
    cfg = tmp_path / "small.toml"
    cfg.write_text(SMALL_SEARCH)
    # the 1,797 digits need a few epochs before a CAE passes the reconstruction gate
    learned = tmp_path / "learned.toml"
    learned.write_text(SMALL_SEARCH.replace("epochs = 1", "epochs = 6"))
    db = str(tmp_path / "runs.db")
    run = subprocess.run(
        [sys.executable, "-m", "evonas.cli", "run", "--config", str(cfg), "--dataset", "fashion-mnist",
         "--data-dir", str(fashion_dir()), "--subset", "500", "--name", "fm", "--db", db, "--quiet"],
        capture_output=True, text=True, timeout=600, env=ENV,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp_path / "mydigits.npz", x=(digits.images * 15).astype(np.uint8), y=digits.target)
    custom = subprocess.run(
        [sys.executable, "-m", "evonas.cli", "run", "--config", str(cfg), "--dataset",
         str(tmp_path / "mydigits.npz"), "--name", "npz", "--db", db, "--quiet"],
        capture_output=True, text=True, timeout=600, env=ENV,
    )  # fmt: skip
    assert custom.returncode == 0, custom.stderr
    show = subprocess.run([sys.executable, "-m", "evonas.cli", "show", "fm", "--db", db, "--json"],
                          capture_output=True, text=True, env=ENV)  # fmt: skip
    data = json.loads(show.stdout)
    assert data["config"]["dataset"]["subset"] == 500 and len(data["generations"]) == 2
    # without labels: the number of clusters must be given, and the objective is the silhouette
    np.savez(tmp_path / "unlabelled.npz", x=(digits.images * 15).astype(np.uint8))
    base = [sys.executable, "-m", "evonas.cli", "run", "--config", str(learned), "--dataset",
            str(tmp_path / "unlabelled.npz"), "--db", db, "--quiet"]  # fmt: skip
    missing = subprocess.run([*base, "--name", "nolabels"], capture_output=True, text=True, env=ENV)
    assert missing.returncode == 1 and "--clusters K" in missing.stderr
    unlabelled = subprocess.run(
        [*base, "--name", "nolabels", "--clusters", "10"],
        capture_output=True,
        text=True,
        timeout=600,
        env=ENV,
    )
    assert unlabelled.returncode == 0, unlabelled.stderr
    show = subprocess.run([sys.executable, "-m", "evonas.cli", "show", "nolabels", "--db", db, "--json"],
                          capture_output=True, text=True, env=ENV)  # fmt: skip
    best = json.loads(show.stdout)["best"]["metrics"]
    assert best["acc"] is None and 0.0 < best["silhouette"] <= 1.0
