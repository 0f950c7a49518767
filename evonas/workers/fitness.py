"""Fitness of one genome: (genome, data, budget, seed) -> EvalResult, a pure top-level function.

Train the CAE on reconstruction (MSE, Adam) within the budget, measure the validation
reconstruction loss, gate on it (did the model learn to reconstruct at all?), then
encode the validation images, run k-means and score the partition against the labels.
Every failure comes back as a result with ``status="failed"`` and a message; nothing
here raises for a bad genome, so one candidate never kills a generation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from evonas.errors import INFRASTRUCTURE
from evonas.genomes import Genome, build_autoencoder, validate_genome
from evonas.learn import (
    DeadlinePassed,
    TrainingDiverged,
    cluster_codes,
    clustering_scores,
    label_free_score,
    reconstruct_and_encode,
    sample_index,
    state_dict_bytes,
    train_reconstruction,
)
from evonas.metrics import Metrics
from evonas.seeds import checkpoint_rng
from evonas.statuses import EvalStatus
from evonas.values import Budget, EvalResult, FitnessData, Rung


class _Pruned(Exception):
    """Internal: the checkpoint score fell below the rung's threshold."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.values = values


class _Failure(Exception):
    """Internal: an evaluation outcome that is a failure of the genome, with partial metrics."""

    def __init__(self, message: str, **partial: Any) -> None:
        super().__init__(message)
        self.partial = partial


def evaluate_genome(
    genome: Genome | str,
    data: FitnessData,
    budget: Budget,
    seed: int,
    *,
    device: str = "cpu",
    threads: int | None = None,
    keep_weights: bool = False,
    timeout: float | None = None,
    rungs: Sequence[Rung] = (),
    on_epoch: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Train and score one genome. Deterministic for a given seed and thread count on the CPU.

    With ``keep_weights`` a successful result carries the trained weights (safetensors bytes).
    An evaluation still training after ``timeout`` seconds stops and fails as an infrastructure
    failure (never reused as the genome's fitness). With ``rungs``, the objective is also
    measured at each checkpoint (``rung_scores``) and the evaluation is pruned at the first one
    it falls below.
    ``on_epoch(done, total)`` is called after each training epoch (progress for the driver).
    """
    start = time.perf_counter()
    started_at = time.time()
    deadline = start + timeout if timeout is not None else None
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        values = _evaluate(genome, data, budget, seed, device, keep_weights, deadline, rungs, on_epoch)
        status = EvalStatus.OK
        error = None
    except _Pruned as exc:
        values, status, error = exc.values, EvalStatus.PRUNED, str(exc)
    except DeadlinePassed:
        values, status, error = {}, EvalStatus.FAILED, f"{INFRASTRUCTURE} trial timeout after {timeout:g} s"
    except _Failure as exc:
        values, status, error = exc.partial, EvalStatus.FAILED, str(exc)
    except TrainingDiverged as exc:
        values, status, error = {}, EvalStatus.FAILED, str(exc)
    except Exception as exc:  # any error of the candidate is its result, never the run's
        values, status, error = {}, EvalStatus.FAILED, f"{type(exc).__name__}: {exc}"
    metrics = Metrics.from_mapping(values)
    kept = ("rung_acc", "rung_scores", "pruned_at", "weights", "head_seconds")
    extra = {k: values[k] for k in kept if k in values}
    return EvalResult(
        status=status,
        metrics=metrics,
        error=error,
        seconds=time.perf_counter() - start,
        started_at=started_at,
        finished_at=time.time(),
        seed=seed,
        device=device,
        **extra,
    )


def _evaluate(
    genome: Genome | str,
    data: FitnessData,
    budget: Budget,
    seed: int,
    device: str,
    keep_weights: bool,
    deadline: float | None = None,
    rungs: Sequence[Rung] = (),
    on_epoch: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    if isinstance(genome, str):
        genome = Genome.from_json(genome)
    report = validate_genome(genome, data.input_shape, budget.max_params)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_autoencoder(genome, data.input_shape).to(device)
    fmt = torch.channels_last if budget.use_channels_last(data.input_shape) else torch.contiguous_format
    model = model.to(memory_format=fmt)  # type: ignore[call-overload]
    x_train = torch.from_numpy(np.array(data.x_train, dtype=np.float32, copy=True)).to(
        device, memory_format=fmt
    )
    x_val = torch.from_numpy(np.array(data.x_val, dtype=np.float32, copy=True)).to(device, memory_format=fmt)
    baseline = float(((x_val - x_train.mean(dim=0, keepdim=True)) ** 2).mean())
    checkpoint: dict[str, Any] = {"head_seconds": 0.0}
    rung_at = {r.epoch: r for r in rungs if r.epoch < budget.epochs}

    def score(z: np.ndarray, generator: np.random.Generator) -> dict[str, float]:
        """The head on the codes, its seconds added to ``checkpoint["head_seconds"]`` (every call)."""
        t0 = time.perf_counter()
        try:
            return score_codes(z, data, budget, generator, seed)
        finally:
            checkpoint["head_seconds"] += time.perf_counter() - t0

    def at_epoch(epoch: int, _loss: float) -> None:
        if on_epoch is not None:
            on_epoch(epoch, budget.epochs)
        rung = rung_at.get(epoch)
        if rung is None:
            return
        recon, z = reconstruct_and_encode(model, x_val, budget.batch_size * 4)
        model.train()
        if not (np.isfinite(recon) and np.isfinite(z).all()):
            return  # the final gate judges a diverged model
        try:
            scores = score(z, checkpoint_rng(seed))
        except ValueError:  # e.g. a single cluster so far: nothing to judge yet
            return
        objective = Metrics.from_mapping(scores).score(budget.objective)
        checkpoint["rung_acc"] = objective
        if objective is not None:
            checkpoint["rung_scores"] = {**checkpoint.get("rung_scores", {}), epoch: objective}
        if rung.prune_below is not None and objective is not None and objective < rung.prune_below:
            raise _Pruned(
                f"pruned after epoch {epoch}/{budget.epochs}: score {objective:.4f} is below the "
                f"generation's threshold {rung.prune_below:.4f}",
                **scores, **checkpoint, pruned_at=epoch, recon_loss=recon,
                baseline_loss=baseline, params=report.params,
            )  # fmt: skip

    try:
        train_reconstruction(
            model, x_train, epochs=budget.epochs, batch_size=budget.batch_size,
            lr=genome.recipe.lr if genome.recipe else budget.lr, rng=rng, deadline=deadline,
            on_epoch=at_epoch, augment=genome.recipe.augmentation() if genome.recipe else None,
        )  # fmt: skip
    except TrainingDiverged as exc:
        raise _Failure(str(exc), params=report.params) from None
    recon, z = reconstruct_and_encode(model, x_val, budget.batch_size * 4)
    partial: dict[str, Any] = {
        "recon_loss": recon,
        "baseline_loss": baseline,
        "params": report.params,
        **checkpoint,
    }
    if not np.isfinite(recon):
        raise _Failure(f"diverged: validation loss is {recon}", **partial)
    if recon >= budget.gate_ratio * baseline:
        raise _Failure(
            f"gate: validation MSE {recon:.5f} is not below {budget.gate_ratio} x the mean-image "
            f"MSE {baseline:.5f} (the model did not learn to reconstruct, or collapsed)",
            **partial,
        )
    if not np.isfinite(z).all() or float(z.std(axis=0).max()) < 1e-8:
        raise _Failure("collapsed: the latent codes are constant or not finite", **partial)
    try:
        scores = score(z, rng)
    except ValueError as exc:  # e.g. k-means found a single cluster: nothing to score
        timed = partial | {"head_seconds": checkpoint["head_seconds"]}
        raise _Failure(f"collapsed: {exc}", **timed) from None
    partial["head_seconds"] = checkpoint["head_seconds"]
    weights = state_dict_bytes(model) if keep_weights else None
    return {**partial, **scores, "weights": weights}


def score_codes(
    z: np.ndarray, data: FitnessData, budget: Budget, rng: np.random.Generator, seed: int
) -> dict[str, float]:
    """The budget's head on (a bounded sample of) the codes, scored against the labels (ACC, NMI,
    ARI) or, without labels, by the silhouette of the partition in the head's own space."""
    idx = sample_index(z.shape[0], budget.kmeans_max_samples, rng)
    partition = cluster_codes(z[idx], data.n_clusters, budget.head, seed, budget.kmeans_n_init)
    if data.y_val is None:
        return {"silhouette": label_free_score(partition, seed)}
    scores = clustering_scores(data.y_val[idx], partition.labels)
    if budget.objective == "silhouette":  # asked for on labelled data: measured beside the others
        scores["silhouette"] = label_free_score(partition, seed)
    return scores
