"""The options of ``nas train`` and of its clustering fine-tuning: pydantic models, validated at the
edge; the CLI derives its flags' help, defaults and choices from them. No torch here, so that
building the command line costs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evonas.genomes.recipe import AFFINE, Augment
from evonas.values import Augmentation, Head

Method = Literal["idec", "edcwrn"]
Optimizer = Literal["adam", "sgd"]
Centres = Literal["kmeans", "head"]
StoppedBecause = Literal["labels settled", "iteration limit"]


# the nas train flag of each FinetuneConfig field a user may set
FLAGS: dict[str, str] = {
    "max_iterations": "--finetune-iterations", "update_interval": "--update-interval", "tol": "--stop-tol",
    "cluster_weight": "--cluster-weight", "optimizer": "--finetune-optimizer", "lr": "--finetune-lr",
    "augment": "--finetune-augment", "centres": "--finetune-centres",
    "kmeans_n_init": "--finetune-kmeans-init", "kernel_a": "--kernel-a",
    "kernel_b": "--kernel-b", "neighbours": "--neighbours", "feature_beta": "--feature-beta",
    "feature_lambda": "--feature-lambda", "reliable_start": "--reliable-start",
    "reliable_step": "--reliable-step",
}  # fmt: skip


class FinetuneConfig(BaseModel):
    """Every constant of both methods; EDCWRN's defaults are its authors'."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    method: Method = "idec"
    cluster_weight: float = Field(
        0.1, gt=0, le=100, description="weight of the clustering loss beside the reconstruction's"
    )
    update_interval: int = Field(
        140, ge=1, le=10**6, description="iterations between target-distribution updates (T)"
    )
    tol: float = Field(
        0.001, ge=0, lt=1,
        description="stop when fewer than this share of the labels change between two updates",
    )  # fmt: skip
    max_iterations: int = Field(8000, ge=1, le=10**7, description="at most this many iterations")
    batch_size: int = Field(256, ge=2, le=65_536)
    optimizer: Optimizer = Field("adam", description="the fine-tuning's optimiser (SGD with momentum 0.9)")
    lr: float = Field(1e-4, gt=0, le=10, description="the fine-tuning's learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD only")
    augment: Augmentation = Field(
        Augmentation(),
        description="random affine augmentation of the samples and their neighbours (IDEC, as DEC-DA: "
        "the bundle's recipe)",
    )
    centres: Centres = Field(
        "kmeans",
        description="initial cluster centres: k-means on the codes, as the papers, or the mean code "
        "of each cluster the head found before fine-tuning",
    )
    kmeans_n_init: int = Field(20, ge=1, le=1000, description="k-means restarts for the initial centres")
    kernel_a: float = Field(1.93, gt=0, le=1000, description="EDCWRN kernel (1 + A d^B)^-1: A")
    kernel_b: float = Field(0.79, gt=0, le=100, description="EDCWRN kernel (1 + A d^B)^-1: B")
    neighbours: int = Field(
        2, ge=0, le=50, description="EDCWRN nearest neighbours added to each embedding (0: none)"
    )
    feature_beta: float = Field(
        2.0, gt=1, le=100, description="EDCWRN feature-weight exponent, > 1 (the weights use 1 / (beta - 1))"
    )
    feature_lambda: float = Field(
        0.1, ge=0, le=100, description="EDCWRN share of each feature's variance added to its dispersion"
    )
    reliable_start: float = Field(
        -0.9, ge=-1, le=1,
        description="EDCWRN: a sample trains when its top probability is >= B1 and its top-two gap >= "
        "B1/2, in Q and P (the authors' -0.9 takes every sample)",
    )  # fmt: skip
    reliable_step: float = Field(
        0.09, ge=0, le=1,
        description="EDCWRN: lower both thresholds by S whenever fewer samples are reliable, while both "
        "are in [0, 1]",
    )  # fmt: skip

    @classmethod
    def for_method(cls, method: Method, recipe_augment: Augmentation, **given: object) -> FinetuneConfig:
        """The method's defaults, then ``given`` (the user's options; None = default). EDCWRN: its
        authors' augmentation (shift 0.1, rotation 10 degrees, zoom 0.1), 150 k-means restarts and SGD
        at lr 1, momentum 0.9; IDEC: the bundle's recipe augmentation, 20 restarts, Adam at 1e-4."""
        edcwrn = method == "edcwrn"
        defaults: dict[str, object] = {
            "augment": Augmentation(0.1, 10.0, 0.1) if edcwrn else recipe_augment,
            "kmeans_n_init": 150 if edcwrn else 20,
            # the authors' SGD at lr 1 also trains a CAE: on digits it beat Adam 1e-4 (bench/README.md)
            "optimizer": "sgd" if edcwrn else "adam",
            "lr": 1.0 if edcwrn else 1e-4,
        }
        chosen = {key: value for key, value in given.items() if value is not None}
        try:
            return cls(method=method, **{**defaults, **chosen})
        except ValidationError as exc:  # one line per bad option, named by its flag
            raise ValueError(
                "; ".join(
                    f"{FLAGS.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'fine-tuning'}: {e['msg']}"
                    for e in exc.errors()
                )
            ) from None


Protocol = Literal["heldout", "transductive"]


class TrainOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str | None = Field(
        None, description="dataset name or .npz file (default: the one the bundle was searched on)"
    )
    data_dir: Path | None = Field(
        None, description="folder with its files (default: the search's, when the dataset is its)"
    )
    epochs: int = Field(10, ge=0, le=100_000, description="reconstruction training epochs")
    batch_size: int = Field(256, ge=2, le=65_536, description="training batch size")
    lr: float | None = Field(
        None, gt=0, le=1, description="Adam learning rate (default: the bundle's recipe, else 1e-3)"
    )
    augment: Augment | None = Field(
        None, description="random affine augmentation (default: the bundle's recipe, else none)"
    )
    noise: float | None = Field(
        None, ge=0, le=1, description="denoising input noise (default: the bundle's recipe, else 0)"
    )
    seed: int = Field(0, ge=0, lt=2**31, description="training seed")
    from_scratch: bool = Field(False, description="start from fresh weights, not the exported ones")
    # umap-gmm: +0.04-0.11 ACC over k-means on Fashion-MNIST (bench/README.md, "Pipeline")
    head: Head = Field(
        "umap-gmm",
        description="how codes become clusters: umap-gmm (UMAP to k dimensions, then a Gaussian "
        "mixture, as N2D does; a minute or two more on 70k images) or kmeans",
    )
    protocol: Protocol = Field(
        "heldout",
        description="heldout: train without the test split, score on it; transductive: train, cluster "
        "and score on every image, as the papers do. Results go to DIR/PROTOCOL/",
    )
    clusters: int | None = Field(
        None, ge=2, le=100_000,
        description="clusters to find (default: the number of classes; required without labels)",
    )  # fmt: skip
    finetune: Method | None = Field(None, description="clustering fine-tuning after training")
    finetune_options: dict[str, Any] = Field(
        default_factory=dict, description="FinetuneConfig fields the user set; the rest: the method's"
    )
    classifier: Literal["probe", "finetune"] | None = Field(None, description="a softmax head on the labels")
    classifier_epochs: int = Field(10, ge=1, le=100_000, description="epochs of the classifier head")
    kmeans_n_init: int = Field(10, ge=1, le=1000)
    pictures: bool = True

    @model_validator(mode="after")
    def _finetune_options_checked(self) -> TrainOptions:
        if self.finetune_options and not self.finetune:
            raise ValueError(f"fine-tuning options ({', '.join(self.finetune_options)}) need --finetune")
        if self.finetune:
            self.finetune_config(Augmentation())  # every option checked now, before any training
        return self

    def finetune_config(self, recipe_augment: Augmentation) -> FinetuneConfig:
        """The fine-tuning constants: the method's defaults, the user's options over them."""
        assert self.finetune is not None
        given = dict(self.finetune_options)
        if isinstance(given.get("augment"), str):
            given["augment"] = Augmentation(*AFFINE[given["augment"]])
        return FinetuneConfig.for_method(self.finetune, recipe_augment, **given)
