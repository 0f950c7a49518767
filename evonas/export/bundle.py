"""Export bundles: a folder with genome.json, model.safetensors and model.py that needs nothing of evonas."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evonas import __version__
from evonas.errors import NASError
from evonas.export.codegen import model_source
from evonas.genomes import Genome, validate_genome
from evonas.storage import IndividualRecord, RunInfo, RunStorage

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
    """A run's distinct genomes with measured metrics, best ACC first (earliest on ties)."""
    seen: dict[str, IndividualRecord] = {}
    for g in storage.load_generations(run.id):
        for i in g.individuals:
            if i.complete and i.hash not in seen:
                seen[i.hash] = i
    return sorted(seen.values(), key=lambda r: -(r.score or 0.0))


def write_bundle(
    out: Path,
    genome: Genome,
    input_shape: tuple[int, int, int],
    weights: Path,
    meta: dict[str, Any],
) -> Bundle:
    """Write the three files into ``out`` (created; existing bundle files are replaced)."""
    validate_genome(genome, input_shape)
    out.mkdir(parents=True, exist_ok=True)
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
        position = rank or 1
        if not 1 <= position <= len(candidates):
            raise NASError(
                f"The '--rank' option must be between 1 and {len(candidates)} for run {run.name!r}. "
                f"Got {position} instead."
            )
        chosen = candidates[position - 1]
    weights = Path(weights_dir) / f"run-{run.id}" / f"{chosen.hash}.safetensors"
    if not weights.is_file():
        kept = sorted(p.stem for p in weights.parent.glob("*.safetensors")) if weights.parent.exists() else []
        ranks = [candidates.index(c) + 1 for c in candidates if c.hash in kept]
        raise NASError(
            f"The weights of {Genome.from_json(chosen.genome).compact()} (rank {position}) were not kept: "
            f"a run keeps those of its best {run.config.get('keep_weights', 0)} individuals "
            f"in {weights_dir}. "
            f"Ranks with weights: {ranks or 'none'}."
        )
    meta = {
        "metrics": chosen.metrics() | {"rank": position},
        "run": run.name,
        "dataset": run.config.get("dataset", {}),
        "budget": run.config.get("budget", {}),
        "seed": chosen.seed,
    }
    return write_bundle(out, Genome.from_json(chosen.genome), input_shape, weights, meta)
