"""nas: configuration, the evolution loop, and the ``nas`` command line that ties it together.

Names are imported lazily so that ``nas --help`` does not pay for torch and Ray.
"""

from __future__ import annotations

from evonas.lazy import lazy_exports

_EXPORTS = {
    "DatasetConfig": "evonas.nas.config",
    "RunConfig": "evonas.nas.config",
    "build_config": "evonas.nas.config",
    "Breeder": "evonas.nas.breeding",
    "Candidate": "evonas.nas.breeding",
    "Search": "evonas.nas.evolution",
    "SteadyStateSearch": "evonas.nas.steady",
    "evaluation_seed": "evonas.seeds",
    "generation_rng": "evonas.seeds",
    "prepare_data": "evonas.nas.runner",
    "run_search": "evonas.nas.runner",
    "resume_search": "evonas.nas.runner",
    "evaluation_key": "evonas.nas.runner",
    "AccFitness": "evonas.nas.selection",
    "AccLossFitness": "evonas.nas.selection",
    "Individual": "evonas.nas.selection",
    "select_survivors": "evonas.nas.selection",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("evonas.nas", _EXPORTS)
