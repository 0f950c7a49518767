"""Clustering fine-tuning of a trained autoencoder: IDEC (optionally with augmentation, as DEC-DA)
and EDCWRN as its authors run it.

Both keep the reconstruction loss and add a clustering loss between a soft assignment Q of the
embeddings to learnable cluster centres (initialised by k-means in embedding space) and DEC's
sharpened target P, recomputed on all samples every ``update_interval`` iterations; training stops
when fewer than ``tol`` of the labels change between two target updates, or after
``max_iterations``.

- IDEC (Guo et al. 2017): Q is the Student's t kernel normalised over clusters, loss =
  MSE + cluster_weight * KL(P || Q). With ``augment`` every batch is randomly transformed, the
  target of the reconstruction included (DEC-DA, Guo et al. 2018).
- EDCWRN, with the values of its authors' public notebook as defaults:
  * kernel q_ij = (1 + a (sum_m w_jm (e_im - r_jm)^2)^b)^-1, a = 1.93, b = 0.79, not normalised;
  * embedding e_i = f(x_i) + max(f(x_n1), f(x_n2)): the sample's code plus the element-wise max of
    its 2 nearest neighbours' codes, each neighbour's (augmented) image going through the same
    encoder; the neighbours are found by a k-NN over the embeddings of all samples at each target
    update; the decoder reconstructs the sample from e;
  * feature weights per cluster from the q^2-weighted within-cluster dispersion D_jm (plus
    ``feature_lambda`` times the features' mean variance, so that no feature of zero dispersion
    takes every weight): w_jm = 1 / sum_t (D_jm / D_jt)^(1 / (beta - 1)), beta = 2, recomputed at each
    target update; each cluster's weights sum to 1 (uniform 1/d at the start);
  * only reliable samples train: a sample is reliable when, in both Q and P, its top probability
    is >= b1 and the gap to its second is >= b2 = b1 / 2; both thresholds are lowered by
    ``reliable_step`` whenever the number of reliable samples falls. The notebook starts at
    b1 = -0.9, where every sample passes; a positive start makes the selection bite;
  * categorical cross-entropy between P and Q, weight 0.1; augmentation shift 0.1, rotation 10
    degrees, zoom 0.1 on the samples and on their neighbours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from evonas.learn import fit_kmeans
from evonas.learn.augment import augment_batch
from evonas.training.options import FinetuneConfig, StoppedBecause


@dataclass
class FinetuneResult:
    labels: np.ndarray  # argmax of Q for every sample of ``x_eval``
    iterations: int
    stopped_because: StoppedBecause
    # one entry per target update; from the second on with the mean loss since the one before
    history: list[dict[str, float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # total loss of every iteration


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """P: square Q and divide by cluster frequency, normalised per sample (DEC/IDEC)."""
    q = q / q.sum(dim=1, keepdim=True)
    weight = q**2 / q.sum(dim=0)
    return weight / weight.sum(dim=1, keepdim=True)


def student_t(z: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """IDEC's soft assignment (alpha = 1), normalised over clusters."""
    q = 1.0 / (1.0 + torch.cdist(z, centres) ** 2)
    return q / q.sum(dim=1, keepdim=True)


def weighted_kernel(
    z: torch.Tensor, centres: torch.Tensor, w: torch.Tensor, a: float, b: float
) -> torch.Tensor:
    """EDCWRN's soft assignment with per-cluster feature weights ``w`` (k, d); not normalised."""
    d = ((z[:, None, :] - centres[None, :, :]) ** 2 * w[None, :, :]).sum(dim=2)
    return 1.0 / (1.0 + a * (d.clamp_min(1e-12) ** b))


def dispersion_weights(
    e: torch.Tensor, centres: torch.Tensor, q: torch.Tensor, beta: float, lam: float = 0.0
) -> torch.Tensor:
    """w_jm = 1 / sum_t (D_jm / D_jt)^(1/(beta-1)), where D_jm is the q^2-weighted mean squared
    distance of feature m to centre j plus ``lam`` times the mean variance of the features over all
    samples (one constant for every feature, so it pulls the weights towards uniform)."""
    if beta <= 1:
        raise ValueError(f"feature_beta must be > 1 (got {beta}): the weights use 1 / (beta - 1)")
    q2 = q**2  # (n, k)
    sq = (e[:, None, :] - centres[None, :, :]) ** 2  # (n, k, d)
    disp = (q2[:, :, None] * sq).sum(dim=0) / q2.sum(dim=0).clamp_min(1e-12)[:, None]
    disp = disp + lam * e.var(dim=0).mean() + 1e-12
    ratio = (disp[:, :, None] / disp[:, None, :]) ** (1.0 / (beta - 1.0))
    return 1.0 / ratio.sum(dim=2)


def reliable_mask(q: torch.Tensor, p: torch.Tensor, b1: float, b2: float) -> torch.Tensor:
    """Samples whose top probability is >= b1 and whose top-two gap is >= b2, in both Q and P."""

    def confident(r: torch.Tensor) -> torch.Tensor:
        top2 = r.topk(min(2, r.shape[1]), dim=1).values
        gap = top2[:, 0] - top2[:, 1] if top2.shape[1] == 2 else top2[:, 0]
        return (top2[:, 0] >= b1) & (gap >= b2)

    return confident(q) & confident(p)


def nearest_neighbours(e: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of each row's ``k`` nearest other rows (euclidean)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, e.shape[0] - 1)
    nn_index = NearestNeighbors(n_neighbors=k + 1).fit(e)
    idx = nn_index.kneighbors(e, return_distance=False)
    out = np.empty((e.shape[0], k), dtype=np.int64)
    for i, row in enumerate(idx):  # drop the row itself (usually first, not always with duplicates)
        others = row[row != i][:k]
        out[i] = others if len(others) == k else row[1 : k + 1]
    return out


class _Thresholds:
    """EDCWRN's reliability thresholds, lowered whenever the reliable set shrinks while both are in
    [0, 1] (as the authors' notebook: from their start b1 = -0.9 every sample stays reliable)."""

    def __init__(self, start: float, step: float) -> None:
        self.b1, self.b2, self.step = start, start / 2, step
        self.previous = -1

    def update(self, count: int, first: bool) -> None:
        in_range = 0 <= self.b1 <= 1 and 0 <= self.b2 <= 1
        if not first and in_range and count < self.previous:
            self.b1, self.b2 = self.b1 - self.step, self.b2 - self.step
        self.previous = count


class _Clusterer(nn.Module):
    def __init__(self, centres: np.ndarray, cfg: FinetuneConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.centres = nn.Parameter(torch.tensor(centres, dtype=torch.float32))
        self.w: torch.Tensor
        self.register_buffer("w", torch.full(self.centres.shape, 1.0 / self.centres.shape[1]))

    def q(self, e: torch.Tensor) -> torch.Tensor:
        if self.cfg.method == "idec":
            return student_t(e, self.centres)
        return weighted_kernel(e, self.centres, self.w, self.cfg.kernel_a, self.cfg.kernel_b)

    def loss(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        if self.cfg.method == "idec":  # KL(P || Q), per sample
            return (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(dim=1).mean()
        # cross-entropy as Keras computes it in the authors' notebook: Q normalised per sample and
        # clipped to [1e-7, 1 - 1e-7]; unnormalised, its minimum pulls every centre onto every code
        q = (q / q.sum(dim=1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
        return -(p * q.log()).sum(dim=1).mean()


def _embed(model: nn.Module, xb: torch.Tensor, xn: torch.Tensor | None) -> torch.Tensor:
    """The sample's code, plus the element-wise max of its neighbours' codes (``xn``: (n, k, ...))."""
    z = model.encode(xb)  # type: ignore[operator]
    if xn is None or xn.shape[1] == 0:
        return z
    n, k = xn.shape[:2]
    zn = model.encode(xn.reshape(n * k, *xn.shape[2:]))  # type: ignore[operator]
    return z + zn.reshape(n, k, -1).max(dim=1).values


@torch.no_grad()
def _embed_all(model: nn.Module, x: torch.Tensor, nbrs: np.ndarray | None, batch: int) -> torch.Tensor:
    """Embeddings of every sample, in eval mode (neighbours given by index into ``x``)."""
    model.eval()
    out = []
    for i in range(0, x.shape[0], batch):
        xn = None if nbrs is None else x[torch.from_numpy(nbrs[i : i + batch])]
        out.append(_embed(model, x[i : i + batch], xn))
    model.train()
    return torch.cat(out)


def _optimizer(params: list[nn.Parameter], cfg: FinetuneConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.Adam(params, lr=cfg.lr)


def _start(
    e: np.ndarray, n_clusters: int, cfg: FinetuneConfig, seed: int, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The initial centres in embedding space and the partition they come from."""
    if cfg.centres == "kmeans":
        km = fit_kmeans(e, n_clusters, cfg.kmeans_n_init, seed)
        return km.cluster_centers_, km.labels_
    if labels is None or labels.shape != (e.shape[0],):
        raise ValueError("centres from the head need the head's cluster of every fine-tuned sample")
    counts = np.bincount(labels, minlength=n_clusters)
    if counts.shape[0] != n_clusters or not counts.all():
        raise ValueError(
            f"the head's partition has {int((counts > 0).sum())} non-empty clusters, not {n_clusters}: "
            "use --finetune-centres kmeans"
        )
    centres = np.stack([e[labels == c].mean(axis=0) for c in range(n_clusters)])
    return centres, labels


def finetune(
    model: nn.Module,
    x: torch.Tensor,
    n_clusters: int,
    cfg: FinetuneConfig,
    seed: int = 0,
    on_update: Callable[[dict[str, float]], None] | None = None,
    x_eval: torch.Tensor | None = None,
    start_labels: np.ndarray | None = None,
) -> FinetuneResult:
    """Fine-tune ``model`` (an autoencoder with ``encode``/``decode``) for clustering ``x`` in place;
    the result's labels are the argmax of Q on ``x_eval`` (default ``x``). With ``cfg.centres ==
    "head"``, ``start_labels`` (a cluster of 0..n_clusters-1 for each sample of ``x``, e.g. the head's
    partition) place the centres at the mean embedding of each cluster instead of k-means."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    edcwrn = cfg.method == "edcwrn" and cfg.neighbours > 0
    batch = cfg.batch_size

    def neighbours_of(e: torch.Tensor) -> np.ndarray | None:
        return nearest_neighbours(e.numpy(), cfg.neighbours) if edcwrn else None

    # the neighbours of the start come from the plain codes; the centres live in embedding space
    nbrs = neighbours_of(_embed_all(model, x, None, batch))
    e_all = _embed_all(model, x, nbrs, batch)
    centres, start = _start(e_all.numpy(), n_clusters, cfg, seed, start_labels)
    clusterer = _Clusterer(centres, cfg)
    labels_last = torch.from_numpy(start.astype(np.int64))
    opt = _optimizer([*model.parameters(), *clusterer.parameters()], cfg)
    thresholds = _Thresholds(cfg.reliable_start, cfg.reliable_step)
    history: list[dict[str, float]] = []
    losses: list[float] = []
    p_all = torch.empty(0)
    reliable = np.arange(x.shape[0])
    order, pos, it = reliable, len(reliable), 0
    stopped: StoppedBecause = "iteration limit"
    model.train()
    while it < cfg.max_iterations:
        if it % cfg.update_interval == 0:
            with torch.no_grad():
                if it > 0:
                    nbrs = neighbours_of(e_all)
                    e_all = _embed_all(model, x, nbrs, batch)
                if cfg.method == "edcwrn":
                    q_now = clusterer.q(e_all)  # with the weights of the last update
                    weights = dispersion_weights(
                        e_all, clusterer.centres, q_now, cfg.feature_beta, cfg.feature_lambda
                    )
                    clusterer.w.copy_(weights)
                q_all = clusterer.q(e_all)
                p_all = target_distribution(q_all)
            labels = q_all.argmax(dim=1)
            changed = float((labels != labels_last).float().mean())
            labels_last = labels
            if cfg.method == "edcwrn":
                mask = reliable_mask(q_all, p_all, thresholds.b1, thresholds.b2)
                thresholds.update(int(mask.sum()), first=it == 0)
                reliable = np.flatnonzero(mask.numpy()) if bool(mask.any()) else np.arange(x.shape[0])
                order, pos = rng.permutation(reliable), 0
            history.append({
                "iteration": float(it), "label_change": changed, "reliable": float(len(reliable)),
                "b1": thresholds.b1,
            })  # fmt: skip
            if losses:  # the mean loss of the iterations since the last target update
                window = losses[-cfg.update_interval :]
                history[-1]["loss"] = sum(window) / len(window)
            if on_update is not None:
                on_update(history[-1])
            if it > 0 and changed < cfg.tol:
                stopped = "labels settled"
                break
        if pos >= len(order):
            order, pos = rng.permutation(reliable), 0
        idx = torch.from_numpy(order[pos : pos + batch])
        pos += batch
        xin, xb = augment_batch(cfg.augment, x[idx], gen) if cfg.augment.active else (x[idx], x[idx])
        xn = None
        if nbrs is not None:
            neighbour_images = x[torch.from_numpy(nbrs[idx.numpy()]).reshape(-1)]
            if cfg.augment.active:
                neighbour_images, _ = augment_batch(cfg.augment, neighbour_images, gen)
            xn = neighbour_images.reshape(len(idx), nbrs.shape[1], *x.shape[1:])
        e = _embed(model, xin, xn)
        recon = nn.functional.mse_loss(model.decode(e), xb)  # type: ignore[operator]
        loss = recon + cfg.cluster_weight * clusterer.loss(clusterer.q(e), p_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        it += 1
    with torch.no_grad():
        xe = x if x_eval is None else x_eval
        e_eval = _embed_all(model, xe, None, batch)
        if edcwrn:
            e_eval = _embed_all(model, xe, neighbours_of(e_eval), batch)
        labels_eval = clusterer.q(e_eval).argmax(dim=1).numpy()
    return FinetuneResult(
        labels=labels_eval, iterations=it, stopped_because=stopped, history=history, losses=losses
    )
