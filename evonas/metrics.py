"""The figures one evaluation produces, as one typed value, and the objective the search maximises.

Every layer that carries an evaluation's figures (the fitness result, the stored record, the
journal, ``nas show --json``, the report, the export bundle) holds a :class:`Metrics`; its
serialised form is :meth:`Metrics.to_json` and nothing else. Depends on nothing of evonas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

Objective = Literal["acc", "nmi", "ari", "silhouette"]
OBJECTIVES: tuple[Objective, ...] = get_args(Objective)
DEFAULT_OBJECTIVE: Objective = "acc"  # what runs stored before objectives could be chosen maximised


class Metrics(BaseModel):
    """What an evaluation measured. Scores are None when it could not measure them (a failure
    before clustering, or ACC / NMI / ARI on data without labels)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    acc: float | None = None  # clustering accuracy against the labels (Hungarian matching)
    nmi: float | None = None
    ari: float | None = None
    silhouette: float | None = None  # the label-free objective, for data without labels
    recon_loss: float | None = None  # validation MSE
    baseline_loss: float | None = None  # validation MSE of predicting the mean training image
    params: int | None = None

    def score(self, objective: Objective = DEFAULT_OBJECTIVE) -> float | None:
        """The one rule of what a search maximises: the ``objective`` metric (ACC, NMI, ARI, or the
        label-free silhouette), and the silhouette on data without labels whatever the objective
        (a labelled score is then None)."""
        value = getattr(self, objective)
        return value if value is not None else self.silhouette

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Metrics:
        """The metrics among ``values`` (other keys are ignored): reads flat forms such as a
        storage row's columns or an older journal payload."""
        return cls(**{k: values[k] for k in cls.model_fields if values.get(k) is not None})

    def to_json(self) -> dict[str, float | int | None]:
        """The one serialised form (every field, None where not measured)."""
        return self.model_dump()

    def mean(self, other: Metrics) -> Metrics:
        """The figures of two evaluations of one genome: scores and losses averaged (None when
        either lacks it); the parameter count is the genome's own."""
        averaged = {
            k: None if getattr(self, k) is None or getattr(other, k) is None
            else (getattr(self, k) + getattr(other, k)) / 2
            for k in AVERAGED
        }  # fmt: skip
        return self.model_copy(update=averaged)


AVERAGED = ("acc", "nmi", "ari", "silhouette", "recon_loss")
"""The figures that vary from seed to seed, averaged over the evaluations of a genome."""
