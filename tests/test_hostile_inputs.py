"""Bad inputs as a hostile (or hurried) user makes them: each gives one line on stderr naming the
option or file and what to do, exit 1 (2 for usage errors), no traceback, and no file created or
changed but the log file. Runs `nas` in-process, so the table stays fast."""

from __future__ import annotations

import logging
import pickle
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from evonas.cli import main
from evonas.genomes import Genome, build_autoencoder
from evonas.learn import state_dict_bytes
from evonas.metrics import Metrics
from evonas.nas.config import RunConfig
from evonas.nas.runner import evaluation_key
from evonas.storage import GenerationRecord, IndividualRecord, SQLStorage
from evonas.storage.weights import WeightStore, default_weights_dir

GENOME = Genome.from_compact("c8k3-pmax-d10")


def _stored_run(folder: Path) -> Path:
    """A database with one finished digits run whose best genome's weights were kept."""
    db = folder / "runs.db"
    config = RunConfig(
        name="good", generations=0, db=str(db), weights_dir=default_weights_dir(str(db)).resolve()
    )
    with SQLStorage(str(db)) as storage:
        key = evaluation_key(config)
        run = storage.create_run("good", config.model_dump(mode="json"), 0, key, input_shape=(1, 8, 8))
        rec = IndividualRecord(
            hash=GENOME.hash, genome=GENOME.canonical_json(), parents=(), operator="init", status="ok",
            seed=1, metrics=Metrics(acc=0.7, nmi=0.6, ari=0.5, recon_loss=0.03, params=100),
        )  # fmt: skip
        storage.record_generation(run.id, GenerationRecord(0, (GENOME.hash,), (rec,), 1.0))
        storage.update_run(run.id, "finished")
        weights = state_dict_bytes(build_autoencoder(GENOME, (1, 8, 8)))
        WeightStore(config.weights_dir, 5, storage.get_run(run.id)).offer(GENOME.hash, 0.7, weights)
    return db


@pytest.fixture
def place(tmp_path) -> Path:
    """A folder with a stored run, an exported bundle and assorted bad files."""
    db = _stored_run(tmp_path)
    assert main(["export", "good", "--db", str(db), "--out", str(tmp_path / "bundle")]) == 0
    (tmp_path / "notes.txt").write_text("not a database\n")
    (tmp_path / "latin1.toml").write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    (tmp_path / "huge.toml").write_text("population = 100000000000000000000\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me\n")
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    x = np.random.default_rng(0).random((30, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "one_class.npz", x=x, y=np.zeros(30, dtype=np.int64))
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 8, 8), dtype=np.float32))
    np.savez(tmp_path / "few.npz", x=x[:12], y=np.arange(12) % 6)
    shutil.copytree(tmp_path / "bundle", tmp_path / "no_weights")
    (tmp_path / "no_weights" / "model.safetensors").unlink()
    shutil.copytree(tmp_path / "bundle", tmp_path / "bad_weights")
    (tmp_path / "bad_weights" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix != ".log" and not p.name.endswith(("-wal", "-shm"))
    }


# (argv with {d} for the folder, exit status, words the one line must hold)
CASES = {
    "run": [
        (["run", "--lr", ""], 2, "--lr"),
        (["run", "--rungs", "0.5,0.25"], 2, "--rungs"),
        (["run", "--rungs", "half"], 2, "--rungs"),
        (["run", "--rungs", "0.5,1"], 2, "--rungs"),
        (["run", "--population", "1000000"], 1, "'population'"),
        (
            ["run", "--population", "1"],
            1,
            "The 'population' option must be greater than or equal to 2. Got 1",
        ),
        (["run", "--epochs", "0"], 1, "'budget.epochs'"),
        (["run", "--config", "{d}/latin1.toml"], 1, "latin1.toml is not UTF-8"),
        (["run", "--config", "{d}/huge.toml"], 1, "'population'"),
        (["run", "--config", "{d}/nowhere.toml"], 1, "nowhere.toml does not exist"),
        (["run", "--db", "{d}"], 1, "is a folder"),
        (["run", "--db", ""], 1, "--db is empty"),
        (["run", "--db", "sqlite:///:memory:"], 1, "in-memory"),
        (["run", "--db", "{d}/notes.txt"], 1, "not an SQLite database"),
        (["run", "--db", "{d}/app.db"], 1, "not evonas's"),
        (["run", "--name", "12", "--db", "{d}/runs.db"], 1, "'name' option must not be an integer"),
        (["run", "--name", "a\nb", "--db", "{d}/runs.db"], 1, "control characters"),
        (["run", "--name", "\x1b[31mred", "--db", "{d}/runs.db"], 1, "control characters"),
        (["run", "--name", "good", "--db", "{d}/runs.db"], 1, "already exists"),
        (["run", "--dataset", "{d}/missing.npz", "--db", "{d}/runs.db"], 1, "No file"),
        (["run", "--dataset", "{d}/empty.npz", "--db", "{d}/runs.db"], 1, "holds no images"),
        (["run", "--dataset", "{d}/one_class.npz", "--db", "{d}/runs.db"], 1, "single class"),
        (["run", "--clusters", "1000", "--db", "{d}/runs.db"], 1, "'clusters' option must be at most"),
        (["run", "--clusters", "1000000", "--db", "{d}/runs.db"], 1, "'dataset.clusters'"),
        (
            ["run", "--dataset", "nope"],
            1,
            "'dataset' option must be one of ['cifar10', 'digits', 'fashion-mnist'",
        ),
        (["run", "--seed-genome", "resnet50", "--db", "{d}/runs.db"], 1, "'resnet50' is neither a reference"),
        (["run", "--seed-genome", "c8k3-pmax-pmax-pmax-pmax-d4", "--db", "{d}/runs.db"], 1, "c8k3-pmax"),
        (["run", "--seed-from", "ghost", "--db", "{d}/runs.db"], 1, "No run 'ghost'"),
        (["run", "--seed-top", "0", "--db", "{d}/runs.db"], 1, "'--seed-top'"),
    ],
    "resume": [
        (["resume", "ghost", "--db", "{d}/runs.db"], 1, "No run 'ghost'"),
        (["resume", "good", "--db", "{d}/missing.db"], 1, "No database"),
        (["resume", "good", "--db", "{d}/runs.db"], 1, "pass --generations N"),
        (["resume", "good", "--db", "{d}/runs.db", "--generations", "-1"], 1, "'--generations' option"),
    ],
    "readers": [
        (["runs", "--db", "{d}/notes.txt"], 1, "not an SQLite database"),
        (["status", "ghost", "--db", "{d}/runs.db"], 1, "No run 'ghost'"),
        (["show", "ghost", "--db", "{d}/runs.db"], 1, "list runs with 'nas runs"),
        (["report", "ghost", "--db", "{d}/runs.db", "--out", "{d}/r.html"], 1, "No run 'ghost'"),
        (["runs", "--db", "{d}/nowhere.db"], 1, "No database"),
        (["show", "good", "--db", "{d}/app.db"], 1, "not evonas's"),
        (["show", "good", "--db", "{d}/nowhere.db"], 1, "No database"),
        (["report", "good", "--db", "{d}/runs.db", "--out", "{d}/full"], 1, "is a folder"),
        (["report", "good", "--db", "{d}/runs.db", "--out", "{d}/no/such/r.html"], 1, "does not exist"),
        (["compare", "good", "ghost", "--db", "{d}/runs.db"], 1, "No run 'ghost'"),
    ],
    "export": [
        (["export", "good", "--db", "{d}/runs.db", "--out", "{d}/new", "--rank", "0"], 1, "'--rank'"),
        (["export", "good", "--db", "{d}/runs.db", "--out", "{d}/new", "--rank", "2"], 1, "'--rank'"),
        (["export", "good", "--db", "{d}/runs.db", "--out", "{d}/notes.txt"], 1, "is a file"),
        (["export", "good", "--db", "{d}/runs.db", "--out", "{d}/full"], 1, "not empty"),
        (["export", "good", "--db", "{d}/runs.db", "--out", "{d}/bundle"], 1, "--force"),
        (["export", "good", "--db", "{d}/runs.db", "--out", "{d}/n", "--hash", "zz"], 1, "hash starting"),
        (["export", "good", "--db", "{d}/runs.db"], 2, "--out"),
        (["export", "ghost", "--db", "{d}/runs.db", "--out", "{d}/new"], 1, "No run 'ghost'"),
    ],
    "train": [
        (["train", "{d}/full", "--dataset", "digits", "--epochs", "1"], 1, "not an evonas bundle"),
        (["train", "{d}/no_weights", "--dataset", "digits", "--epochs", "1"], 1, "no weights file"),
        (["train", "{d}/bad_weights", "--dataset", "digits", "--epochs", "1"], 1, "Cannot read the weights"),
        (["train", "{d}/bundle", "--dataset", "{d}/few.npz", "--epochs", "1"], 1, "fewer than its 6 classes"),
        (["train", "{d}/bundle", "--dataset", "digits", "--epochs", "-1"], 1, "'epochs'"),
        (["train", "{d}/bundle", "--dataset", "digits", "--epochs", "x"], 2, "--epochs"),
    ],
    "cluster": [
        (["cluster", "{d}/bundle", "--dataset", "digits", "--out", "{d}/o"], 1, "No fitted head"),
        (["cluster", "{d}/full", "--dataset", "digits", "--out", "{d}/o"], 1, "not an evonas bundle"),
        (["cluster", "{d}/bundle", "--dataset", "digits"], 2, "--out"),
    ],
    "data": [
        (["data", "download", "mnist", "--data-dir", "{d}/notes.txt"], 1, "is a file"),
        (["data", "download", "imagenet", "--data-dir", "{d}/x"], 1, "must be one of"),
    ],
    "db": [
        (["db", "upgrade", "--db", "{d}/app.db"], 1, "not evonas's"),
        (["db", "upgrade", "--db", "{d}/nowhere.db"], 1, "No database"),
    ],
}


def _call(argv: list[str], capsys) -> tuple[int, str]:
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    finally:
        for h in root.handlers[len(handlers) :]:
            root.removeHandler(h)
            h.close()
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, status, words",
    [
        pytest.param(*case, id=f"{group}:{' '.join(case[0])[:60]}")
        for group, cases in CASES.items()
        for case in cases
    ],
)
def test_a_bad_input_gives_one_clear_line_and_changes_nothing(
    place, capsys, monkeypatch, argv, status, words
):
    monkeypatch.chdir(place)  # a log file that has nowhere better to go lands here
    before = _snapshot(place)
    got, err = _call([a.format(d=place) for a in argv], capsys)
    lines = err.strip().splitlines()
    assert got == status, err
    assert len(lines) == 1, err
    assert lines[0].startswith("nas") and "error:" in lines[0] and words in lines[0], err
    assert "Traceback" not in err and "<" not in lines[0].split("error:", 1)[1][:3]
    assert _snapshot(place) == before  # nothing created or changed (log files aside)


def test_export_refuses_weights_that_belong_to_another_run(place, capsys):
    db = place / "runs.db"
    with SQLStorage(str(db)) as storage:
        run = storage.get_run("good")
        folder = Path(run.config["weights_dir"]) / f"run-{run.uid}"
    other = WeightStore(place / "elsewhere", 5, run.__class__(**{**run.__dict__, "uid": "0" * 32}))
    other.offer(GENOME.hash, 0.7, state_dict_bytes(build_autoencoder(GENOME, (1, 8, 8))))
    shutil.copyfile(other.folder / f"{GENOME.hash}.safetensors", folder / f"{GENOME.hash}.safetensors")
    status, err = _call(["export", "good", "--db", str(db), "--out", str(place / "x")], capsys)
    assert status == 1 and "belong to run_uid 0000" in err and not (place / "x").exists()


def test_export_refuses_weights_that_do_not_fit_the_genome(place, capsys):
    db = place / "runs.db"
    with SQLStorage(str(db)) as storage:
        run = storage.get_run("good")
    folder = Path(run.config["weights_dir"]) / f"run-{run.uid}"
    other = Genome.from_compact("c16k3-pmax-d10")
    from safetensors.torch import load, save

    wrong = load(state_dict_bytes(build_autoencoder(other, (1, 8, 8))))
    (folder / f"{GENOME.hash}.safetensors").write_bytes(save(wrong))  # no owner recorded: an old file
    status, err = _call(["export", "good", "--db", str(db), "--out", str(place / "x")], capsys)
    assert status == 1 and "do not fit c8k3-pmax-d10" in err and not (place / "x").exists()


def test_export_with_force_replaces_a_bundle(place, capsys):
    status, _ = _call(
        ["export", "good", "--db", str(place / "runs.db"), "--out", str(place / "bundle"), "--force"], capsys
    )
    assert status == 0


def test_weights_of_two_databases_in_one_folder_never_mix(tmp_path):
    a, b = default_weights_dir(str(tmp_path / "a.db")), default_weights_dir(str(tmp_path / "a.sqlite"))
    assert a != b


def test_a_crafted_cifar_batch_cannot_run_code(tmp_path):
    from evonas.datasets import load_dataset
    from evonas.errors import DatasetError

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "cifar"
    folder.mkdir()
    official = {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [0, 1]}
    for stem in [f"data_batch_{i}" for i in range(2, 6)] + ["test_batch"]:
        (folder / stem).write_bytes(pickle.dumps(official))
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(DatasetError, match=r"asks to run posix\.system while loading"):
        load_dataset("cifar10", folder)
    assert not marker.exists()
    (folder / "data_batch_1").write_bytes(pickle.dumps(official))  # the official layout still loads
    assert load_dataset("cifar10", folder).x.shape == (12, 3, 32, 32)


def test_an_ambiguous_array_layout_is_decided_by_the_documented_rule(tmp_path, caplog):
    from evonas.datasets.loaders import load_npz

    x = np.random.default_rng(0).random((5, 4, 4, 3)).astype(np.float32)
    np.savez(tmp_path / "amb.npz", x=x)
    with caplog.at_level(logging.WARNING):
        assert load_npz(tmp_path / "amb.npz").x.shape == (5, 3, 4, 4)  # channels last by default
    assert "--layout nchw" in caplog.text
    assert load_npz(tmp_path / "amb.npz", "nchw").x.shape == (5, 4, 4, 3)
