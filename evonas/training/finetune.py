"""Clustering fine-tuning of a trained autoencoder: IDEC and EDCWRN.

Both keep the reconstruction loss and add a clustering loss between a soft assignment Q of
the codes to learnable cluster centres (initialised by k-means) and a sharpened target P,
recomputed every ``update_interval`` iterations over all samples; training stops when fewer
than ``tol`` of the labels change between two updates.

- IDEC (Guo et al. 2017): Q is the Student's t kernel normalised over clusters; loss =
  MSE + lambda * KL(P || Q).
- EDCWRN: q_ij = (1 + a * (sum_m w_jm (z_im - r_jm)^2)^b)^-1, not normalised; per-cluster
  feature weights w_jm from the within-cluster dispersion D_jm (larger weight for smaller
  dispersion, each cluster's weights summing to 1: w_jm = 1 / sum_t (D_jm / D_jt)^(1/(beta-1)));
  cross-entropy between P and Q as the clustering loss; each code is summed with the
  element-wise max of its k nearest neighbours' codes in the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from evonas.learn import fit_kmeans

Method = Literal["idec", "edcwrn"]


@dataclass(frozen=True)
class FinetuneConfig:
    method: Method = "idec"
    lam: float = 0.1  # weight of the clustering loss
    neighbours: int = 2  # EDCWRN: k nearest neighbours in the batch
    batch_size: int = 256
    update_interval: int = 140  # T: iterations between target updates
    tol: float = 0.001  # epsilon: stop when fewer than this share of labels change
    max_iterations: int = 20_000
    lr: float = 1e-3
    a: float = 1.0  # EDCWRN kernel parameters
    b: float = 1.0
    beta: float = 2.0  # EDCWRN weight exponent (> 1)
    kmeans_n_init: int = 20


@dataclass
class FinetuneResult:
    labels: np.ndarray
    iterations: int
    history: list[dict[str, float]] = field(default_factory=list)  # one entry per target update
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
    return 1.0 / (1.0 + a * d.clamp_min(0) ** b)


def dispersion_weights(
    z: torch.Tensor, centres: torch.Tensor, labels: torch.Tensor, beta: float
) -> torch.Tensor:
    """w_jm = 1 / sum_t (D_jm / D_jt)^(1/(beta-1)), D the within-cluster dispersion per feature."""
    k, dim = centres.shape
    disp = torch.zeros(k, dim, dtype=z.dtype)
    disp.index_add_(0, labels, (z - centres[labels]) ** 2)
    disp = disp + 1e-8  # an empty or single-point cluster: equal weights
    ratio = (disp[:, :, None] / disp[:, None, :]) ** (1.0 / (beta - 1.0))
    return 1.0 / ratio.sum(dim=2)


def neighbour_augment(z: torch.Tensor, k: int) -> torch.Tensor:
    """Each code plus the element-wise max of its ``k`` nearest neighbours' codes in the batch."""
    if k <= 0 or z.shape[0] <= 1:
        return z
    k = min(k, z.shape[0] - 1)
    dist = torch.cdist(z, z)
    dist.fill_diagonal_(float("inf"))
    idx = dist.topk(k, largest=False).indices  # (n, k)
    return z + z[idx].max(dim=1).values


class _Clusterer(nn.Module):
    def __init__(self, centres: np.ndarray, cfg: FinetuneConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.centres = nn.Parameter(torch.tensor(centres, dtype=torch.float32))
        self.w: torch.Tensor
        self.register_buffer("w", torch.full(self.centres.shape, 1.0 / self.centres.shape[1]))

    def embed(self, z: torch.Tensor) -> torch.Tensor:
        return neighbour_augment(z, self.cfg.neighbours) if self.cfg.method == "edcwrn" else z

    def q(self, z: torch.Tensor) -> torch.Tensor:
        if self.cfg.method == "idec":
            return student_t(z, self.centres)
        return weighted_kernel(self.embed(z), self.centres, self.w, self.cfg.a, self.cfg.b)

    def loss(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        if self.cfg.method == "idec":  # KL(P || Q), per sample
            return (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(dim=1).mean()
        return -(p * q.clamp_min(1e-12).log()).sum(dim=1).mean()  # cross-entropy


@torch.no_grad()
def _all_q(
    model: nn.Module, clusterer: _Clusterer | None, x: torch.Tensor, batch: int, neighbours: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embedded codes and (given a clusterer) soft assignments of all samples, batch by batch as
    in training (EDCWRN's neighbours are taken within each batch), in eval mode."""
    model.eval()
    es, qs = [], []
    for i in range(0, x.shape[0], batch):
        z = model.encode(x[i : i + batch])  # type: ignore[operator]
        if clusterer is not None:
            es.append(clusterer.embed(z))
            qs.append(clusterer.q(z))
        else:
            es.append(neighbour_augment(z, neighbours))
    model.train()
    return torch.cat(es), torch.cat(qs) if qs else torch.empty(0)


def finetune(
    model: nn.Module,
    x: torch.Tensor,
    n_clusters: int,
    cfg: FinetuneConfig,
    seed: int = 0,
    on_update: Callable[[dict[str, float]], None] | None = None,
) -> FinetuneResult:
    """Fine-tune ``model`` (an autoencoder with ``encode``/``decode``) for clustering in place."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    # centres live in the space the soft assignment sees: EDCWRN's neighbour-augmented codes
    z0, _ = _all_q(model, None, x, cfg.batch_size, cfg.neighbours if cfg.method == "edcwrn" else 0)
    km = fit_kmeans(z0.numpy(), n_clusters, cfg.kmeans_n_init, seed)
    clusterer = _Clusterer(km.cluster_centers_, cfg)
    labels_last = torch.from_numpy(km.labels_.astype(np.int64))
    opt = torch.optim.Adam([*model.parameters(), *clusterer.parameters()], lr=cfg.lr)
    model.train()
    history: list[dict[str, float]] = []
    losses: list[float] = []
    p_all = torch.empty(0)
    order = torch.from_numpy(rng.permutation(x.shape[0]))
    pos, it = 0, 0
    while it < cfg.max_iterations:
        if it % cfg.update_interval == 0:
            if cfg.method == "edcwrn":
                with torch.no_grad():
                    e_all, _ = _all_q(model, clusterer, x, cfg.batch_size)
                    clusterer.w.copy_(dispersion_weights(e_all, clusterer.centres, labels_last, cfg.beta))
            _, q_all = _all_q(model, clusterer, x, cfg.batch_size)
            p_all = target_distribution(q_all)
            labels = q_all.argmax(dim=1)
            changed = float((labels != labels_last).float().mean())
            labels_last = labels
            history.append({"iteration": float(it), "label_change": changed, "loss": float("nan")})
            if on_update is not None:
                on_update(history[-1])
            if it > 0 and changed < cfg.tol:
                break
        if pos >= x.shape[0]:
            order, pos = torch.from_numpy(rng.permutation(x.shape[0])), 0
        idx = order[pos : pos + cfg.batch_size]
        pos += cfg.batch_size
        xb = x[idx]
        z = model.encode(xb)  # type: ignore[operator]
        recon = nn.functional.mse_loss(model.decode(z), xb)  # type: ignore[operator]
        loss = recon + cfg.lam * clusterer.loss(clusterer.q(z), p_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        window = losses[-(it % cfg.update_interval + 1) :]
        history[-1]["loss"] = sum(window) / len(window)  # mean loss since the last target update
        it += 1
    _, q_all = _all_q(model, clusterer, x, cfg.batch_size)
    return FinetuneResult(labels=q_all.argmax(dim=1).numpy(), iterations=it, history=history, losses=losses)
