"""Run configuration: one pydantic model, built once at the edge (file + flags) and passed down."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from evonas.datasets.loaders import Layout
from evonas.errors import ConfigError
from evonas.genomes import SearchSpace
from evonas.nas.pruning import PruningConfig
from evonas.storage import default_db_url
from evonas.values import UNTIL_TIME_IS_SPENT, Budget

MAX_POPULATION = 10_000  # a bound on every count of individuals (a generation is held in memory)
MAX_GENERATIONS = UNTIL_TIME_IS_SPENT  # a time-budgeted run that names no generations runs this many
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> object:
    """``900``, ``"900s"``, ``"45m"``, ``"2h"``, ``"1h30m"`` -> seconds (other values pass to pydantic)."""
    if isinstance(value, str):
        text = value.strip().lower()
        parts = re.fullmatch(r"((\d+(\.\d+)?)\s*([smhd])\s*)+", text)
        if text.replace(".", "", 1).isdigit():
            return float(text)
        if not parts:
            raise ValueError(f"must be a duration such as 900s, 45m or 2h. Got {value!r} instead.")
        return sum(float(n) * _UNITS[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)\s*([smhd])", text))
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=365 * 86400)]


class DatasetConfig(BaseModel):
    """Which images a run searches on and how they are split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("digits", description="digits (built in), mnist, fashion-mnist, cifar10, or FILE.npz")
    data_dir: Path | None = Field(None, description="folder with the dataset's files")
    subset: int | None = Field(
        None, ge=2, le=10**9,
        description="use at most N training images (default: all; 8000 for images of 16x16 and more)",
    )  # fmt: skip
    val_size: int = Field(
        400, ge=10, le=10**9,
        description="validation images fitness is scored on (2000 for images of 16x16 and more, at "
        "most a fifth of the images)",
    )  # fmt: skip
    test_fraction: float = Field(0.2, ge=0, lt=1, description="Share held out from the search.")
    clusters: int | None = Field(
        None, ge=2, le=100_000,
        description="clusters the head looks for (default: the number of classes; required without "
        "labels)",
    )  # fmt: skip
    layout: Layout = Field(
        "auto",
        description="how a 4-d array of an .npz file is laid out (auto: channels last when the last "
        "axis has 1, 3 or 4 entries and axis 1 has not; when both could, channels last)",
    )


class RunConfig(BaseModel):
    """Everything that defines a run. Stored with the run, so it can be resumed and compared."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(
        None, min_length=1, max_length=200, description="unique run name (default: generated and printed)"
    )
    seed: int = Field(0, ge=0, lt=2**31, description="root random seed")
    population: int = Field(10, ge=2, le=MAX_POPULATION, description="survivors per generation (mu)")
    offspring: int | None = Field(
        None, ge=1, le=MAX_POPULATION, description="Offspring per generation (lambda); default population."
    )
    generations: int = Field(
        5, ge=0, le=MAX_GENERATIONS, description="generations after generation 0 (the initial population)"
    )
    crossover_prob: float = Field(0.5, ge=0, le=1)
    mutation_prob: float = Field(0.8, ge=0, le=1)
    selection: Literal["best", "tournament", "nsga2"] = Field(
        "best",
        description="Survivor selection over parents + offspring: 'best' (truncation), "
        "'tournament' (with elites), or 'nsga2' over (ACC up, reconstruction loss down).",
    )
    strategy: Literal["ga", "random"] = Field(
        "ga",
        description="ga: offspring by crossover and mutation; random: every generation's candidates "
        "drawn at random from the search space (random search, the baseline the GA must beat)",
    )
    mode: Literal["generational", "steady-state"] = Field(
        "generational",
        description="generational (reproducible): each generation bred, evaluated and selected as a "
        "whole; steady-state: no generation barrier, every finished evaluation at once starts the "
        "next child, bred by a tournament among the newest 'population' individuals (regularised "
        "evolution with ageing; resumable, not bit-reproducible; no pruning or re-evaluation)",
    )
    tournament_size: int = Field(3, ge=2, le=MAX_POPULATION)
    elites: int = Field(
        1, ge=0, le=MAX_POPULATION, description="Best individuals always kept ('tournament' selection)."
    )
    search_space: SearchSpace | None = Field(None, description="Default: a preset for the input shape.")
    budget: Budget = Field(default_factory=Budget)
    pruning: PruningConfig = Field(default_factory=PruningConfig)
    reevaluate: int = Field(
        2,
        ge=0,
        le=MAX_POPULATION,
        description="best new candidates per generation evaluated again with a second seed before "
        "they are trusted (their metrics: the mean of both)",
    )
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    db: str = Field(
        default_factory=default_db_url, description="SQLAlchemy URL or SQLite file path ($EVONAS_DB)."
    )
    address: str | None = Field(None, description="Ray cluster to join; default: start a local one.")
    cpus: int | None = Field(
        None, ge=1, le=65_536, description="CPUs for the local Ray instance (default: all)"
    )
    cpus_per_trial: float = Field(
        1.0, gt=0, le=1024, description="CPUs per evaluation (also its torch threads)"
    )
    gpus_per_trial: float = Field(
        0.0, ge=0, le=64, description="GPUs per evaluation, fractions allowed (0.25 packs four on one GPU)"
    )
    trial_timeout: float | None = Field(
        None, gt=0, le=10**7, description="fail an evaluation still training after S seconds"
    )
    time_budget: Duration | None = Field(
        None,
        description="Wall time a driver may spend (seconds, or '45m', '2h', '900s'): no generation "
        "starts that would overrun it. Without 'generations' set, generations go on until it is spent.",
    )
    seed_genomes: tuple[str, ...] = Field(
        (),
        max_length=MAX_POPULATION,
        description="start generation 0 with this genome: a compact form (c32k3-pmax-d10, with an "
        "optional +aug:...,noise:...,lr:... recipe) or a reference name (kcae, small), before random "
        "ones fill it up; it need only be valid for the images; repeatable",
    )
    keep_weights: int = Field(
        5, ge=0, le=1000, description="Trained weights kept for this many best individuals."
    )
    weights_dir: Path | None = Field(
        None,
        description="where the best candidates' weights are kept (default: beside an SQLite file; for "
        "other databases a folder every machine that exports can read, else ./evonas-weights)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        if self.time_budget is not None and "generations" not in self.model_fields_set:
            object.__setattr__(self, "generations", UNTIL_TIME_IS_SPENT)
            self.model_fields_set.add("generations")
        if self.elites > self.population:
            raise ValueError(f"elites must be <= population. Got {self.elites} > {self.population} instead.")
        if self.mode == "steady-state":
            self._check_steady_state()
        return self

    def _check_steady_state(self) -> None:
        """Steady-state combines with both strategies (ga, random), tournament parents and ageing
        survivors; what needs a whole generation is refused, not silently ignored."""
        given = self.model_fields_set
        if self.selection == "nsga2" or ("selection" in given and self.selection != "tournament"):
            raise ValueError(
                f"--mode steady-state picks parents by tournament and retires the oldest individual; "
                f"selection {self.selection!r} needs whole generations: leave it out (or 'tournament')."
            )
        if "reevaluate" in given and self.reevaluate > 0:
            raise ValueError("--mode steady-state does not re-evaluate candidates: set reevaluate to 0.")
        if "pruning" in given and self.pruning.enabled:
            raise ValueError(
                "--mode steady-state does not prune (its bar comes from a generation's parents)."
            )
        if self.offspring is not None:
            raise ValueError(
                "--mode steady-state breeds one child per finished evaluation: leave offspring out."
            )
        object.__setattr__(self, "selection", "tournament")  # what it does, as the stored config says
        object.__setattr__(self, "reevaluate", 0)
        object.__setattr__(self, "pruning", self.pruning.model_copy(update={"enabled": False}))

    @property
    def n_offspring(self) -> int:
        return self.offspring or self.population

    def space_for(self, input_shape: tuple[int, int, int]) -> SearchSpace:
        """The search space of the run: the configured one, else the preset for these images."""
        return self.search_space or SearchSpace.preset_for(input_shape)


def format_validation_error(exc: ValidationError) -> str:
    """One line naming the option, the constraint and the value, like scikit-learn does."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        return f"Unknown option {loc!r}."
    if err.get("type") == "missing":
        return f"The {loc!r} option is required."
    if not loc:
        return f"Invalid configuration: {msg}"
    text = msg.replace("Input should be", "must be", 1).replace("Value should have", "must have", 1)
    text = text if text.startswith("must") else f"is invalid: {text}"
    if " Got " in text:  # our own validators already name the value
        return f"The {loc!r} option {text}"
    got = json.dumps(err.get("input"), default=str)
    return f"The {loc!r} option {text}. Got {got} instead."


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML or YAML configuration file into a dict."""
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Config file {path} is not UTF-8 text (byte {exc.start} is not valid UTF-8): save it as UTF-8."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}.") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"Config file {path} must end in .toml, .yaml or .yml.")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"Cannot parse {path}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError has no common base with the above
        raise ConfigError(f"Cannot parse {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {path} must hold a table of options at the top level.")
    return data


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def build_config(file: Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The run configuration from an optional file, then flag ``overrides`` (nested dicts)."""
    data = read_config_file(file) if file is not None else {}
    data = _merge(data, overrides or {})
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
