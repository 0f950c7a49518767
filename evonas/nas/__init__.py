"""nas: configuration, the evolution loop, and the ``nas`` command line that ties it together.

Names are imported lazily so that ``nas --help`` does not pay for torch and Ray.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DatasetConfig": "evonas.nas.config",
    "RunConfig": "evonas.nas.config",
    "build_config": "evonas.nas.config",
    "Candidate": "evonas.nas.evolution",
    "RunProgress": "evonas.nas.status",
    "progress_from_storage": "evonas.nas.status",
    "Search": "evonas.nas.evolution",
    "evaluation_seed": "evonas.nas.evolution",
    "generation_rng": "evonas.nas.evolution",
    "prepare_data": "evonas.nas.runner",
    "run_search": "evonas.nas.runner",
    "resume_search": "evonas.nas.runner",
    "evaluation_key": "evonas.nas.runner",
    "AccFitness": "evonas.nas.selection",
    "AccLossFitness": "evonas.nas.selection",
    "Individual": "evonas.nas.selection",
    "select_survivors": "evonas.nas.selection",
    "best_individual": "evonas.nas.summary",
    "load_run_json": "evonas.nas.summary",
    "run_json": "evonas.nas.summary",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'evonas.nas' has no attribute {name!r}")
