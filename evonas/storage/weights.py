"""Trained weights of a run's best individuals, as safetensors files beside the database.

Only the driver writes here. A run keeps at most ``keep`` files, those of its highest-ACC
evaluations; ``index.json`` in the run's folder records their ACC so a resumed run goes on
keeping the same best ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from evonas.storage.sql import normalise_db_url


def default_weights_dir(db: str) -> Path:
    """``runs/evonas.db`` -> ``runs/evonas-weights``; ``./evonas-weights`` for other databases."""
    url = normalise_db_url(db)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        return path.with_name(path.stem + "-weights")
    return Path("evonas-weights")


class WeightStore:
    """Keeps the weights of the ``keep`` best evaluations of each run."""

    def __init__(self, root: Path, keep: int) -> None:
        self.root = Path(root)
        self.keep = keep

    def _dir(self, run_id: int) -> Path:
        return self.root / f"run-{run_id}"

    def _index(self, run_id: int) -> dict[str, float]:
        path = self._dir(run_id) / "index.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def offer(self, run_id: int, genome_hash: str, acc: float | None, data: bytes | None) -> bool:
        """Keep ``data`` if it is among the run's best ``keep`` by ACC; returns whether it was kept."""
        if self.keep <= 0 or acc is None or data is None:
            return False
        index = self._index(run_id)
        if genome_hash in index:
            return True
        if len(index) >= self.keep and acc <= min(index.values()):
            return False
        folder = self._dir(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{genome_hash}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / f"{genome_hash}.safetensors")  # never a half-written file
        index[genome_hash] = acc
        while len(index) > self.keep:
            worst = min(index, key=lambda h: (index[h], h))
            del index[worst]
            (folder / f"{worst}.safetensors").unlink(missing_ok=True)
        tmp_index = folder / ".index.json.tmp"
        tmp_index.write_text(json.dumps(index, sort_keys=True))
        os.replace(tmp_index, folder / "index.json")
        return True

    def path(self, run_id: int, genome_hash: str) -> Path | None:
        path = self._dir(run_id) / f"{genome_hash}.safetensors"
        return path if path.exists() else None

    def kept(self, run_id: int) -> dict[str, float]:
        return self._index(run_id)
