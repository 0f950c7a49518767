"""Fitness of one genome: (genome, data, budget, seed) -> EvalResult, a pure top-level function.

Train the CAE on reconstruction (MSE, Adam) within the budget, measure the validation
reconstruction loss, gate on it (did the model learn to reconstruct at all?), then
encode the validation images, run k-means and score the partition against the labels.
Every failure comes back as a result with ``status="failed"`` and a message; nothing
here raises for a bad genome, so one candidate never kills a generation.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from evonas.errors import INFRASTRUCTURE
from evonas.genomes import Genome, build_autoencoder, validate_genome
from evonas.workers.metrics import clustering_scores

Status = Literal["ok", "failed", "pruned"]


class Budget(BaseModel):
    """How much training a candidate gets, and how it is scored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(10, ge=1, description="Passes over the training images.")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0, le=1, description="Adam learning rate.")
    gate_ratio: float = Field(
        0.9,
        gt=0,
        le=1,
        description="A candidate passes the gate when its validation MSE is below "
        "gate_ratio x the MSE of predicting the mean training image.",
    )
    kmeans_n_init: int = Field(4, ge=1)
    kmeans_max_samples: int = Field(
        5000, ge=10, description="k-means runs on at most this many validation images."
    )
    max_params: int | None = Field(None, ge=1)
    channels_last: bool | None = Field(
        None,
        description="Train in the channels_last memory format (faster oneDNN convolutions on CPUs). "
        "None: for images of at least 16x16, where it pays (see bench/eval_speed.py).",
    )

    def use_channels_last(self, input_shape: tuple[int, int, int]) -> bool:
        if self.channels_last is not None:
            return self.channels_last
        return min(input_shape[1], input_shape[2]) >= 16


class Rung(BaseModel):
    """The pruning checkpoint of one evaluation: after ``epoch`` epochs the partition of the
    validation codes is scored; below ``prune_below`` the evaluation stops there (``pruned``).
    Scoring the checkpoint does not change the training: a candidate that goes on ends exactly
    as it would have without the checkpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epoch: int = Field(ge=1)
    prune_below: float | None = None


@dataclass(frozen=True)
class FitnessData:
    """What an evaluation needs: training images, and validation images with labels if any.

    Without labels (``y_val`` None) the objective is the silhouette of the k-means partition."""

    x_train: np.ndarray  # float32 (N, C, H, W) in [0, 1]
    x_val: np.ndarray
    y_val: np.ndarray | None
    n_clusters: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        _, c, h, w = self.x_train.shape
        return (c, h, w)


class EvalResult(BaseModel):
    """The outcome of one evaluation. ``acc``/``nmi``/``ari`` (or ``silhouette`` without labels)
    are None when it failed; when ``pruned`` they are the figures at the checkpoint."""

    model_config = ConfigDict(frozen=True)

    status: Status
    acc: float | None = None
    nmi: float | None = None
    ari: float | None = None
    silhouette: float | None = None
    rung_acc: float | None = None
    pruned_at: int | None = None
    recon_loss: float | None = None
    baseline_loss: float | None = None
    params: int | None = None
    error: str | None = None
    seconds: float = 0.0
    seed: int = 0
    device: str = "cpu"
    node: str | None = None
    weights: bytes | None = Field(None, repr=False, description="safetensors of the trained model")
    started_at: float = 0.0  # wall-clock (epoch) seconds, for concurrency accounting
    finished_at: float = 0.0

    def metrics(self) -> dict[str, float | int | None]:
        return {
            "acc": self.acc,
            "nmi": self.nmi,
            "ari": self.ari,
            "recon_loss": self.recon_loss,
            "params": self.params,
        }


class _Timeout(Exception):
    """Internal: the evaluation ran past its deadline (an infrastructure limit, not the genome's fault)."""


class _Pruned(Exception):
    """Internal: the checkpoint score fell below the rung's threshold."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.values = values


class _Failure(Exception):
    """Internal: an evaluation outcome that is a failure of the genome, with partial metrics."""

    def __init__(self, message: str, **partial: float | int | None) -> None:
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
    rung: Rung | None = None,
) -> EvalResult:
    """Train and score one genome. Deterministic for a given seed and thread count on the CPU.

    With ``keep_weights`` a successful result carries the trained weights (safetensors bytes).
    An evaluation still training after ``timeout`` seconds stops and fails as an infrastructure
    failure (never reused as the genome's fitness). With a ``rung``, the objective is also
    measured at its checkpoint (``rung_acc``) and the evaluation is pruned there when below.
    """
    start = time.perf_counter()
    started_at = time.time()
    deadline = start + timeout if timeout is not None else None
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        values = _evaluate(genome, data, budget, seed, device, keep_weights, deadline, rung)
        status: Status = "ok"
        error = None
    except _Pruned as exc:
        values, status, error = exc.values, "pruned", str(exc)
    except _Timeout:
        values, status, error = {}, "failed", f"{INFRASTRUCTURE} trial timeout after {timeout:g} s"
    except _Failure as exc:
        values, status, error = exc.partial, "failed", str(exc)
    except Exception as exc:  # any error of the candidate is its result, never the run's
        values, status, error = {}, "failed", f"{type(exc).__name__}: {exc}"
    return EvalResult(
        status=status,
        error=error,
        seconds=time.perf_counter() - start,
        started_at=started_at,
        finished_at=time.time(),
        seed=seed,
        device=device,
        **values,
    )


def _evaluate(
    genome: Genome | str,
    data: FitnessData,
    budget: Budget,
    seed: int,
    device: str,
    keep_weights: bool,
    deadline: float | None = None,
    rung: Rung | None = None,
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
    checkpoint: dict[str, Any] = {}

    def at_epoch(epoch: int, _loss: float) -> None:
        if rung is None or epoch != rung.epoch or epoch >= budget.epochs:
            return
        recon, z = _reconstruct_and_encode(model, x_val, budget.batch_size * 4)
        model.train()
        if not (np.isfinite(recon) and np.isfinite(z).all()):
            return  # the final gate judges a diverged model
        # a generator of its own, so the training's shuffling goes on as without the checkpoint
        try:
            scores = score_codes(z, data, budget, np.random.default_rng([seed, 1]), seed)
        except ValueError:  # e.g. a single cluster so far: nothing to judge yet
            return
        objective = scores.get("acc", scores.get("silhouette"))
        checkpoint["rung_acc"] = objective
        if rung.prune_below is not None and objective is not None and objective < rung.prune_below:
            raise _Pruned(
                f"pruned after epoch {epoch}/{budget.epochs}: score {objective:.4f} is below the "
                f"generation's threshold {rung.prune_below:.4f}",
                **scores, rung_acc=objective, pruned_at=epoch, recon_loss=recon,
                baseline_loss=baseline, params=report.params,
            )  # fmt: skip

    train_reconstruction(
        model, x_train, budget, rng, params=report.params, deadline=deadline, on_epoch=at_epoch
    )
    recon, z = _reconstruct_and_encode(model, x_val, budget.batch_size * 4)
    partial: dict[str, float | int | None] = {
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
        scores = score_codes(z, data, budget, rng, seed)
    except ValueError as exc:  # e.g. k-means found a single cluster: nothing to score
        raise _Failure(f"collapsed: {exc}", **partial) from None
    weights = state_dict_bytes(model) if keep_weights else None
    return {**partial, **scores, "weights": weights}


def score_codes(
    z: np.ndarray, data: FitnessData, budget: Budget, rng: np.random.Generator, seed: int
) -> dict[str, float]:
    """k-means on (a bounded sample of) the codes, scored against the labels (ACC, NMI, ARI) or,
    without labels, by the silhouette of the partition."""
    labels, idx = cluster_latents(z, data.n_clusters, budget, rng, seed)
    if data.y_val is not None:
        return clustering_scores(data.y_val[idx], labels)
    from sklearn.metrics import silhouette_score

    if np.unique(labels).size < 2:
        raise ValueError("k-means put every code in one cluster")
    return {"silhouette": float(silhouette_score(z[idx], labels))}


def state_dict_bytes(model: nn.Module) -> bytes:
    """The model's state dict as safetensors bytes (CPU tensors)."""
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})


def train_reconstruction(
    model: nn.Module,
    x: torch.Tensor,
    budget: Budget,
    rng: np.random.Generator,
    params: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
    deadline: float | None = None,
) -> list[float]:
    """Minibatch Adam on MSE with tensors in memory; returns the mean loss of each epoch.

    ``on_epoch(epoch, mean_loss)`` is called after each epoch (epochs count from 1)."""
    opt = torch.optim.Adam(model.parameters(), lr=budget.lr)
    model.train()
    n = x.shape[0]
    history: list[float] = []
    for epoch in range(budget.epochs):
        perm = torch.from_numpy(rng.permutation(n)).to(x.device)
        total = torch.zeros((), device=x.device)
        for i in range(0, n, budget.batch_size):
            batch = x[perm[i : i + budget.batch_size]]
            if batch.shape[0] < 2 and n >= 2:  # a batch of 1 breaks batchnorm
                continue
            loss = nn.functional.mse_loss(model(batch), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * batch.shape[0]
            if deadline is not None and time.perf_counter() > deadline:
                raise _Timeout
        mean = float(total) / n
        history.append(mean)
        if not np.isfinite(mean):
            raise _Failure(f"diverged: training loss is {mean} in epoch {epoch + 1}", params=params)
        if on_epoch is not None:
            on_epoch(epoch + 1, mean)
    return history


@torch.no_grad()
def _reconstruct_and_encode(model: nn.Module, x: torch.Tensor, batch: int) -> tuple[float, np.ndarray]:
    model.eval()
    sq, codes = 0.0, []
    for i in range(0, x.shape[0], batch):
        xb = x[i : i + batch]
        z = model.encode(xb)  # type: ignore[operator]
        sq += float(((model.decode(z) - xb) ** 2).sum())  # type: ignore[operator]
        codes.append(z.float().cpu())
    return sq / x.numel(), torch.cat(codes).numpy()


def cluster_latents(
    z: np.ndarray, k: int, budget: Budget, rng: np.random.Generator, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """k-means on at most ``budget.kmeans_max_samples`` codes; returns (labels, sample index)."""
    idx = np.arange(z.shape[0])
    if z.shape[0] > budget.kmeans_max_samples:
        idx = np.sort(rng.choice(z.shape[0], budget.kmeans_max_samples, replace=False))
    return fit_kmeans(z[idx], k, budget.kmeans_n_init, seed).labels_, idx


def fit_kmeans(z: np.ndarray, k: int, n_init: int, seed: int) -> Any:
    """scikit-learn's KMeans fitted on the codes (as float64), seeded; silent about the
    ConvergenceWarning that near-duplicate codes raise."""
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed % 2**32).fit(z.astype(np.float64))
