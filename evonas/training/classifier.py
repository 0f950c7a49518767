"""Supervised use of an evolved encoder: a softmax head on its code, probed or fine-tuned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from evonas.training.evaluation import classification_report

Mode = Literal["probe", "finetune"]


def train_classifier(
    model: nn.Module,
    latent_dim: int,
    x_train: torch.Tensor,
    y_train: np.ndarray,
    x_test: torch.Tensor,
    y_test: np.ndarray,
    mode: Mode,
    *,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """Train ``Linear(latent, classes)`` on the encoder's code; ``probe`` freezes the encoder
    (a linear probe), ``finetune`` trains it end to end. Returns the test report."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    classes = np.unique(y_train)
    index = {int(c): i for i, c in enumerate(classes)}
    targets = torch.tensor([index[int(c)] for c in y_train])
    encoder: nn.Module = model.encoder  # type: ignore[assignment]
    head = nn.Linear(latent_dim, classes.size)
    params = list(head.parameters()) + (list(encoder.parameters()) if mode == "finetune" else [])
    opt = torch.optim.Adam(params, lr=lr)
    for epoch in range(epochs):
        encoder.train(mode == "finetune")
        perm = torch.from_numpy(rng.permutation(len(targets)))
        total = 0.0
        for i in range(0, len(perm), batch_size):
            idx = perm[i : i + batch_size]
            if mode == "probe":
                with torch.no_grad():
                    z = encoder(x_train[idx])
            else:
                z = encoder(x_train[idx])
            loss = nn.functional.cross_entropy(head(z), targets[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if on_epoch is not None:
            on_epoch(epoch + 1, total / len(perm))
    encoder.eval()
    with torch.no_grad():
        logits = torch.cat([head(encoder(x_test[i : i + 1024])) for i in range(0, x_test.shape[0], 1024)])
    predicted = classes[logits.argmax(dim=1).numpy()]
    return {"mode": mode, "epochs": epochs, **classification_report(y_test, predicted)}
