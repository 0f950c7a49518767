"""Benchmark: EDCWRN on its authors' own setting (issue 14, proof 1).

The paper's model is the dense 784-500-500-2000-10 autoencoder of DEC / IDEC (ReLU, linear code
and output), which no genome can express (a genome starts with a convolution), so it lives here as
a bench-only reference model. All 70,000 Fashion-MNIST images, transductive (trained and scored on
the same unlabelled set), as the paper: ACC 0.625 / NMI 0.680.

Pre-training follows the authors' notebook except for its length: MSE, batch 256, random affine
augmentation (shift 0.1, rotation 10 degrees, no zoom), SGD at lr 1 with momentum 0.9, weights
uniform in +-1/sqrt(fan_in) (Keras' VarianceScaling(1/3, fan_in, uniform), which is also torch's
default) and zero biases. The notebook pre-trains for 500 x 256 = 128,000 iterations (about 470
epochs); on two CPU cores that does not fit, so ``--pretrain-epochs`` caps it (stated in every
row). Fine-tuning is `evonas.training.finetune` with EDCWRN's defaults,
the authors' constants (`FinetuneConfig.for_method("edcwrn", ...)`): SGD lr 1, momentum 0.9,
a = 1.93, b = 0.79, 2 neighbours over all embeddings, beta 2, lambda 0.1, reliable samples from
b1 = -0.9 by 0.09, T = 140, tol 0.001, 150 k-means restarts, at most 8000 iterations.

Scored on all 70k: the method's own assignment (argmax Q, what the paper reports), k-means and
UMAP + GMM on the final codes, and the same heads on the pre-trained codes (the AE + k-means
reference is 0.61 / 0.64). The pre-trained weights are kept in ``--work`` (git-ignored) and rows
are merged into bench/results/edcwrn_reproduction.json by seed, so a stopped run carries on.

    .venv/bin/python bench/edcwrn_reproduction.py --data-dir ../shared/datasets/fashion-mnist \\
        --seeds 0 --pretrain-epochs 40
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _proc import append_row

from evonas.datasets import load_dataset
from evonas.learn.augment import Augmentation
from evonas.learn.heads import cluster_codes
from evonas.training.evaluation import clustering_report
from evonas.training.finetune import FinetuneConfig, finetune

RESULTS = Path(__file__).parent / "results"
PRETRAIN_AUGMENT = Augmentation(shift=0.1, rotation=10.0, zoom=0.0)


class DenseAutoencoder(nn.Module):
    """784-500-500-2000-10 and back (DEC, IDEC, EDCWRN, N2D), on flattened images."""

    def __init__(self, shape: tuple[int, ...], dims: tuple[int, ...] = (500, 500, 2000, 10)) -> None:
        super().__init__()
        self.shape = shape
        sizes = [int(np.prod(shape)), *dims]

        def stack(widths: list[int]) -> nn.Sequential:
            layers: list[nn.Module] = []
            for i, (a, b) in enumerate(itertools.pairwise(widths)):
                layers.append(nn.Linear(a, b))
                if i < len(widths) - 2:
                    layers.append(nn.ReLU())
            return nn.Sequential(*layers)

        self.encoder = stack(sizes)
        self.decoder = stack(sizes[::-1])
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.zeros_(layer.bias)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def pretrain(model: DenseAutoencoder, x: torch.Tensor, epochs: int, seed: int) -> list[float]:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    losses = []
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        total, start = 0.0, time.perf_counter()
        for i in range(0, x.shape[0], 256):
            xin, target = PRETRAIN_AUGMENT(x[order[i : i + 256]], gen)
            loss = nn.functional.mse_loss(model(xin), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(xin)
        losses.append(total / x.shape[0])
        print(f"  pre-training epoch {epoch + 1}/{epochs}: loss {losses[-1]:.5f} "
              f"({time.perf_counter() - start:.1f} s)", flush=True)  # fmt: skip
    return losses


@torch.no_grad()
def codes(model: DenseAutoencoder, x: torch.Tensor) -> np.ndarray:
    model.eval()
    out = torch.cat([model.encode(x[i : i + 4096]) for i in range(0, x.shape[0], 4096)]).numpy()
    model.train()
    return out


def heads(z: np.ndarray, y: np.ndarray, k: int, seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for head in ("kmeans", "umap-gmm"):
        start = time.perf_counter()
        labels = cluster_codes(z, k, head, seed, 10).labels  # type: ignore[arg-type]
        rep = clustering_report(y, labels)
        out[head] = {m: rep[m] for m in ("acc", "nmi", "ari")} | {
            "seconds": round(time.perf_counter() - start, 1)
        }
    return out


def one(x: torch.Tensor, y: np.ndarray, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    model = DenseAutoencoder(tuple(x.shape[1:]))
    weights = args.work / f"dense-ae-seed{seed}-{args.pretrain_epochs}ep-{len(x)}.pt"
    start = time.perf_counter()
    if weights.exists():
        model.load_state_dict(torch.load(weights, weights_only=True))
        pre_losses, pre_seconds = None, None
    else:
        pre_losses = pretrain(model, x, args.pretrain_epochs, seed)
        pre_seconds = round(time.perf_counter() - start, 1)
        weights.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), weights)
    k = len(np.unique(y))
    before = heads(codes(model, x), y, k, seed)
    print(f"  pre-trained: {json.dumps(before)}", flush=True)
    cfg = FinetuneConfig.for_method(
        "edcwrn", Augmentation(), max_iterations=args.iterations, feature_beta=args.feature_beta,
        lr=args.lr,
    )  # fmt: skip
    start = time.perf_counter()
    result = finetune(
        model, x, k, cfg, seed,
        on_update=lambda h: print(f"  update {json.dumps(h)}", flush=True),
    )  # fmt: skip
    ft_seconds = round(time.perf_counter() - start, 1)
    own = clustering_report(y, result.labels)
    after = heads(codes(model, x), y, k, seed)
    return {
        "seed": seed, "pretrain_epochs": args.pretrain_epochs,
        "pretrain_iterations": args.pretrain_epochs * -(-x.shape[0] // 256),
        "pretrain_seconds": pre_seconds, "pretrain_final_loss": pre_losses[-1] if pre_losses else None,
        "before": before,
        "own_assignment": {m: own[m] for m in ("acc", "nmi", "ari")},
        "after": after,
        "iterations": result.iterations, "stopped_because": result.stopped_because,
        "finetune_seconds": ft_seconds,
        "reliable_last": result.history[-1]["reliable"] if result.history else None,
        "settings": cfg.model_dump(mode="json") | {"augment": str(cfg.augment)},
        "images": int(x.shape[0]), "threads": torch.get_num_threads(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="Fashion-MNIST's IDX files")
    parser.add_argument("--seeds", default="0", help="comma-separated")
    parser.add_argument("--pretrain-epochs", type=int, default=40)
    parser.add_argument("--iterations", type=int, default=8000, help="fine-tuning cap")
    parser.add_argument(
        "--feature-beta", type=float, default=2.0,
        help="EDCWRN's beta (a large one, e.g. 100, keeps the weights near uniform, as the notebook trains)",
    )  # fmt: skip
    parser.add_argument(
        "--lr", type=float, default=None, help="fine-tuning's SGD learning rate (default: the authors' 1)"
    )
    parser.add_argument("--limit", type=int, default=0, help="first N images only (a smoke test)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--work", type=Path, default=Path("bench-work/edcwrn"))
    parser.add_argument("--out", default="edcwrn_reproduction.json")
    args = parser.parse_args()
    try:  # checked before the data loads; the method's default unless given
        lr = FinetuneConfig.for_method("edcwrn", Augmentation(), lr=args.lr).lr
    except ValueError as exc:
        parser.error(str(exc).replace("--finetune-lr", "--lr"))
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("fashion-mnist", args.data_dir)
    assert data.y is not None
    x, y = torch.from_numpy(data.x), np.asarray(data.y)
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    out = RESULTS / args.out
    doc = json.loads(out.read_text()) if out.exists() else {"rows": []}
    for seed in (int(s) for s in args.seeds.split(",")):
        key = (seed, args.pretrain_epochs, args.iterations, len(x), args.feature_beta, lr)
        if any((r["seed"], r["pretrain_epochs"], r["settings"]["max_iterations"], r["images"],
                r["settings"]["feature_beta"], r["settings"]["lr"]) == key for r in doc["rows"]):  # fmt: skip
            continue
        print(f"seed {seed}", flush=True)
        row = one(x, y, args, seed)
        append_row(out, doc, row)


if __name__ == "__main__":
    main()
