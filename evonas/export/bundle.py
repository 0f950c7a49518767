"""Export bundles: a folder with genome.json, model.safetensors and model.py that needs nothing of evonas."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evonas import __version__, ranking
from evonas.errors import NASError
from evonas.export.codegen import model_source
from evonas.genomes import Genome, validate_genome
from evonas.storage import IndividualRecord, RunInfo, RunStorage
from evonas.storage.weights import owner, run_folder

BUNDLE_FORMAT = 1
GENOME_FILE = "genome.json"
WEIGHTS_FILE = "model.safetensors"
MODEL_FILE = "model.py"


@dataclass(frozen=True)
class Bundle:
    directory: Path
    genome: Genome
    input_shape: tuple[int, int, int]
    meta: dict[str, Any]

    @property
    def weights(self) -> Path:
        return self.directory / WEIGHTS_FILE


def ranked(storage: RunStorage, run: RunInfo) -> list[IndividualRecord]:
    """A run's distinct fully evaluated genomes, best first (:func:`evonas.ranking.ranked`)."""
    return ranking.ranked(i for g in storage.load_generations(run.id) for i in g.individuals)


def write_bundle(
    out: Path,
    genome: Genome,
    input_shape: tuple[int, int, int],
    weights: Path,
    meta: dict[str, Any],
    *,
    force: bool = False,
) -> Bundle:
    """Write the three files into ``out``: a new or empty folder, or (``force``) any folder, whose
    bundle files are then replaced."""
    validate_genome(genome, input_shape)
    check_output_folder(out, force)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return _write(out, genome, input_shape, weights, meta)
    except OSError as exc:
        raise NASError(f"Cannot write the bundle into {out}: {exc.strerror or exc}.") from None


def check_output_folder(out: Path, force: bool) -> None:
    """Refuse a path that is a file, or a folder with something in it unless ``force``."""
    if out.exists() and not out.is_dir():
        raise NASError(f"--out {out} is a file, not a folder: name a new folder for the bundle.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise NASError(
            f"--out {out} is not empty: name a new folder, or pass --force to replace the bundle in it."
        )


def _write(
    out: Path, genome: Genome, input_shape: tuple[int, int, int], weights: Path, meta: dict[str, Any]
) -> Bundle:
    doc = {
        "bundle_format": BUNDLE_FORMAT,
        "evonas_version": __version__,
        "genome": genome.model_dump(mode="json"),
        "compact": genome.compact(),
        "hash": genome.hash,
        "input_shape": list(input_shape),
        "latent_dim": genome.latent_dim,
        **meta,
    }
    (out / GENOME_FILE).write_text(json.dumps(doc, indent=2) + "\n")
    shutil.copyfile(weights, out / WEIGHTS_FILE)
    (out / MODEL_FILE).write_text(model_source(genome, input_shape))
    return Bundle(out, genome, input_shape, doc)


def read_bundle(directory: Path) -> Bundle:
    """Read a bundle's genome.json; raises NASError naming what is missing or wrong."""
    path = Path(directory) / GENOME_FILE
    if not path.is_file():
        raise NASError(
            f"{directory} is not an evonas bundle: {GENOME_FILE} is missing (make one with nas export)."
        )
    try:
        doc = json.loads(path.read_text())
        genome = Genome.model_validate(doc["genome"])
        c, h, w = (int(v) for v in doc["input_shape"])
    except (ValueError, KeyError, TypeError) as exc:
        raise NASError(f"{path} is not a valid bundle file: {exc}") from None
    if doc.get("bundle_format") != BUNDLE_FORMAT:
        raise NASError(
            f"{path} has bundle format {doc.get('bundle_format')}; this evonas reads {BUNDLE_FORMAT}."
        )
    return Bundle(Path(directory), genome, (c, h, w), doc)


def export_run(
    storage: RunStorage,
    weights_dir: Path,
    key: str,
    out: Path,
    input_shape: tuple[int, int, int],
    *,
    rank: int | None = None,
    genome_hash: str | None = None,
    force: bool = False,
) -> Bundle:
    """Export the individual of ``rank`` (1 = best ACC) or ``genome_hash`` of a run."""
    run = storage.get_run(key)
    candidates = ranked(storage, run)
    if not candidates:
        raise NASError(f"Run {run.name!r} has no successfully evaluated individual to export.")
    if genome_hash is not None:
        matches = [i for i in candidates if i.hash.startswith(genome_hash)]
        if len(matches) != 1:
            raise NASError(f"{len(matches)} evaluated genomes of run {run.name!r} have a hash starting with "
                           f"{genome_hash!r}; 'nas show {run.name}' lists them.")  # fmt: skip
        chosen, position = matches[0], candidates.index(matches[0]) + 1
    else:
        position = 1 if rank is None else rank  # 0 is an error, not the best
        if not 1 <= position <= len(candidates):
            raise NASError(
                f"The '--rank' option must be between 1 and {len(candidates)} for run {run.name!r}. "
                f"Got {position} instead."
            )
        chosen = candidates[position - 1]
    folder = run_folder(Path(weights_dir), run)
    weights = folder / f"{chosen.hash}.safetensors"
    if not weights.is_file():
        kept = sorted(p.stem for p in weights.parent.glob("*.safetensors")) if weights.parent.exists() else []
        ranks = [candidates.index(c) + 1 for c in candidates if c.hash in kept]
        raise NASError(
            f"The weights of {Genome.from_json(chosen.genome).compact()} (rank {position}) were not kept: "
            f"a run keeps those of its best {run.config.get('keep_weights', 0)} individuals "
            f"in {weights_dir}. "
            f"Ranks with weights: {ranks or 'none'}."
        )
    genome = Genome.from_json(chosen.genome)
    check_weights(weights, genome, input_shape, chosen.hash, run)
    meta = {
        "metrics": chosen.metrics.to_json() | {"rank": position},
        "run": run.name,
        "run_uid": run.uid,
        "dataset": run.config.get("dataset", {}),
        "budget": run.config.get("budget", {}),
        "seed": chosen.seed,
    }
    return write_bundle(out, genome, input_shape, weights, meta, force=force)


def check_weights(
    path: Path, genome: Genome, input_shape: tuple[int, int, int], genome_hash: str, run: RunInfo
) -> None:
    """Refuse weights that are not the evaluated model of ``genome`` in ``run``: their header names
    another genome or run, or their tensors do not fit the genome's model."""
    from safetensors.torch import load_file

    from evonas.genomes import build_autoencoder

    found = owner(path)
    expected = {"genome_hash": genome_hash, "run_uid": run.uid}
    wrong = {k: v for k, v in found.items() if v != expected[k]}
    if wrong:
        raise NASError(
            f"The weights in {path} belong to {', '.join(f'{k} {v}' for k, v in wrong.items())}, not to "
            f"genome {genome_hash[:12]} of run {run.name!r}: the weights folder is shared with another "
            "database or was copied by hand. Nothing was exported."
        )
    try:
        state = load_file(str(path))
        build_autoencoder(genome, input_shape).load_state_dict(state, strict=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0]
        raise NASError(
            f"The weights in {path} do not fit {genome.compact()} ({first}). Nothing was exported."
        ) from None
