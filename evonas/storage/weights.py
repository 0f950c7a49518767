"""Trained weights of a run's best individuals, as safetensors files beside the database.

Only the driver writes here. A run keeps at most ``keep`` files, those of its best-scoring
evaluations, in a folder named after its unique ``uid`` (``run-<uid>``; runs stored before uids
keep their ``run-<id>`` folder); ``index.json`` there records their scores so a resumed run goes
on keeping the same best ones. Each file's safetensors header records the genome hash and the run
uid it belongs to, so an export can check it ships the right weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from evonas.storage.records import RunInfo
from evonas.storage.urls import sqlite_path

OWNER_KEYS = ("genome_hash", "run_uid")  # safetensors metadata of a kept file


def default_weights_dir(db: str) -> Path:
    """``runs/evonas.db`` -> ``runs/evonas.db-weights`` (the whole file name, so ``a.db`` and
    ``a.sqlite`` in one folder never share it); ``./evonas-weights`` for other databases."""
    path = sqlite_path(db)
    return Path("evonas-weights") if path is None else path.with_name(path.name + "-weights")


def run_folder(root: Path, run: RunInfo) -> Path:
    """Where a run's weights live under ``root``: ``run-<uid>``, or the ``run-<id>`` of a run
    that kept weights before runs had uids."""
    legacy = Path(root) / f"run-{run.id}"
    current = Path(root) / f"run-{run.uid}"
    if run.uid and (current.exists() or not legacy.exists()):
        return current
    return legacy


def stamp(data: bytes, genome_hash: str, run_uid: str) -> bytes:
    """The same safetensors file with its owner (genome hash, run uid) in the header."""
    from safetensors.torch import load, save

    return save(load(data), metadata={"genome_hash": genome_hash, "run_uid": run_uid})


def owner(path: Path) -> dict[str, str]:
    """The owner recorded in a kept file's header ({} for files kept before owners were)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    return {k: meta[k] for k in OWNER_KEYS if k in meta}


class WeightStore:
    """Keeps the weights of the ``keep`` best evaluations of one run."""

    def __init__(self, root: Path, keep: int, run: RunInfo) -> None:
        self.folder = run_folder(root, run)
        self.keep = keep
        self.run_uid = run.uid

    def _index(self) -> dict[str, float]:
        path = self.folder / "index.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def offer(self, genome_hash: str, score: float | None, data: bytes | None) -> bool:
        """Keep ``data`` if it is among the run's best ``keep`` by score; returns whether it was kept."""
        if self.keep <= 0 or score is None or data is None:
            return False
        index = self._index()
        if genome_hash in index:
            return True
        if len(index) >= self.keep and score <= min(index.values()):
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{genome_hash}.tmp"
        tmp.write_bytes(stamp(data, genome_hash, self.run_uid))
        os.replace(tmp, self.folder / f"{genome_hash}.safetensors")  # never a half-written file
        index[genome_hash] = score
        while len(index) > self.keep:
            worst = min(index, key=lambda h: (index[h], h))
            del index[worst]
            (self.folder / f"{worst}.safetensors").unlink(missing_ok=True)
        tmp_index = self.folder / ".index.json.tmp"
        tmp_index.write_text(json.dumps(index, sort_keys=True))
        os.replace(tmp_index, self.folder / "index.json")
        return True

    def path(self, genome_hash: str) -> Path | None:
        path = self.folder / f"{genome_hash}.safetensors"
        return path if path.exists() else None

    def kept(self) -> dict[str, float]:
        return self._index()
