"""Every seed a run derives from its one root seed, in one place.

A run is reproducible because each random stream is a pure function of the run's seed and a
stable key: the generation's index, the steady-state candidate's index, or the genome's hash.
Changing any of these changes every stored run's continuation, so they live here, each once.
"""

from __future__ import annotations

import hashlib

import numpy as np

_STEADY_STREAM = 0x57EAD7  # keeps steady-state candidates apart from generations of the same index
_CHECKPOINT_STREAM = 1  # the pruning checkpoints' head, apart from training's stream


def generation_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of generation ``index`` of a run with root ``seed``."""
    return np.random.default_rng([seed, index])


def candidate_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of a steady-state run's ``index``-th candidate."""
    return np.random.default_rng([seed, _STEADY_STREAM, index])


def evaluation_seed(seed: int, genome_hash: str, replicate: int = 0) -> int:
    """The training seed of a genome in a run: the same genome always gets the same seed
    (``replicate`` 1 is the seed of its second evaluation)."""
    key = f"{seed}:{genome_hash}" + (f":{replicate}" if replicate else "")
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def checkpoint_rng(seed: int) -> np.random.Generator:
    """The generator of the clustering head at the pruning checkpoints of an evaluation trained with
    ``seed``: a stream of its own, so a checkpoint leaves training's shuffling as it was."""
    return np.random.default_rng([seed, _CHECKPOINT_STREAM])
