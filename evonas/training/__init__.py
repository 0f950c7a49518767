"""training: `nas train` and `nas cluster` on an exported bundle, and the clustering fine-tuning
(IDEC, EDCWRN) they offer.

Names are imported lazily so that the CLI's help does not pay for torch.
"""

from __future__ import annotations

from evonas.lazy import lazy_exports

_EXPORTS = {
    "TrainOptions": "evonas.training.options",
    "FinetuneConfig": "evonas.training.options",
    "TrainResult": "evonas.training.train",
    "train_bundle": "evonas.training.train",
    "scores_text": "evonas.training.train",
    "cluster_images": "evonas.training.cluster",
    "protocol_rows": "evonas.training.inputs",
    "encode": "evonas.training.encode",
    "score_encoder": "evonas.training.encode",
    "finetune": "evonas.training.finetune",
    "clustering_report": "evonas.training.evaluation",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("evonas.training", _EXPORTS)
