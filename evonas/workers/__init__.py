"""Workers: fitness evaluation of a genome and its dispatch to Ray. Never touches the database."""

from evonas.workers.dispatch import EvalJob, RayEvaluator, evaluate_task, start_ray
from evonas.workers.fitness import Budget, EvalResult, FitnessData, Rung, evaluate_genome

__all__ = [
    "Budget",
    "EvalJob",
    "EvalResult",
    "FitnessData",
    "RayEvaluator",
    "Rung",
    "evaluate_genome",
    "evaluate_task",
    "start_ray",
]
