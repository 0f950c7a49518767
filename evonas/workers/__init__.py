"""Workers: fitness evaluation of a genome and its dispatch to Ray. Never touches the database.

Names are imported on first use, so that what needs only a job or a result (the loop's logic, the
views) does not import torch or Ray.
"""

from __future__ import annotations

from evonas.lazy import lazy_exports

_EXPORTS = {
    "Budget": "evonas.values",
    "EvalResult": "evonas.values",
    "FitnessData": "evonas.values",
    "Rung": "evonas.values",
    "EvalJob": "evonas.workers.jobs",
    "RayEvaluator": "evonas.workers.dispatch",
    "evaluate_task": "evonas.workers.dispatch",
    "start_ray": "evonas.workers.dispatch",
    "evaluate_genome": "evonas.workers.fitness",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("evonas.workers", _EXPORTS)
