"""The pieces every command's parser is made of: argparse with one-line usage errors, the flags
several commands share, and flags derived from the configuration models.

A flag of a model field (:func:`model_flag`) takes its help, its choices (the field's ``Literal``)
and its type from the model, states the model's default in its help, and defaults to None, so
that a flag left out leaves the value to the model (or to a configuration file): a default is
written once, in the model. :data:`MODEL_FLAGS` lists every such flag, for the test that holds
them equal.
"""

from __future__ import annotations

import argparse
import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import BaseModel

from evonas.storage import DEFAULT_DB_URL, default_db_url
from evonas.storage.urls import DB_ENV

EXIT_ERROR = 1  # a user error: one line on stderr
EXIT_USAGE = 2  # argparse's usage errors
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM; the run is marked interrupted and can be resumed


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line: what is wrong and where to read more (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- flags from the configuration models ------------------------------------------------------
@dataclass(frozen=True)
class ModelFlag:
    """A flag whose value is the field ``field`` of ``model``, placed at ``path`` of the input."""

    flag: str
    dest: str
    model: type[BaseModel]
    field: str
    path: tuple[str, ...]


MODEL_FLAGS: list[ModelFlag] = []


def literal_choices(annotation: Any) -> tuple[Any, ...] | None:
    """The values of a ``Literal`` annotation (also inside ``X | None``), else None."""
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if (found := literal_choices(arg)) is not None:
                return found
    return None


def _scalar(annotation: Any) -> Callable[[str], Any]:
    """The argparse type of a field: int, float, Path or str (``X | None`` as X)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _scalar(args[0]) if args else str
    if annotation in (int, float, Path):
        return annotation  # type: ignore[no-any-return]
    return str


def default_text(value: object) -> str:
    """A default as ``--help`` states it: 3e-3 as 0.003, tuples as 0.25,0.5."""
    if isinstance(value, tuple):
        return ",".join(default_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def model_default(model: type[BaseModel], field: str) -> object:
    return model.model_fields[field].get_default(call_default_factory=True)


def model_flag(
    parser: argparse.ArgumentParser | Any,
    flag: str,
    model: type[BaseModel],
    field: str,
    *,
    path: tuple[str, ...] = (),
    metavar: str | None = None,
    type: Callable[[str], Any] | None = None,
    help: str | None = None,
    action: str | None = None,
) -> ModelFlag:
    """Add ``flag`` for ``model.field``: help from the field's description (or ``help``), then
    "(default: X)" when the model has a default that is not None; choices from its ``Literal``."""
    info = model.model_fields[field]
    text = help if help is not None else (info.description or "")
    default = model_default(model, field)
    if default is not None and action is None:
        text = f"{text} (default: {default_text(default)})" if text else f"default: {default_text(default)}"
    dest = flag.lstrip("-").replace("-", "_")
    kwargs: dict[str, Any] = {"dest": dest, "default": None, "help": text.replace("%", "%%")}
    if action is not None:
        kwargs["action"] = action
    else:
        choices = literal_choices(info.annotation)
        kwargs["type"] = type or _scalar(info.annotation)
        if choices is not None:
            kwargs["choices"] = choices
        else:
            kwargs["metavar"] = metavar
    added: argparse.Action = parser.add_argument(flag, **kwargs)
    made = ModelFlag(flag, dest, model, field, path or (field,))
    setattr(added, "model_flag", made)  # noqa: B010 (read by the test of --help defaults)
    MODEL_FLAGS.append(made)
    return made


def given_values(args: argparse.Namespace, flags: list[ModelFlag]) -> dict[str, Any]:
    """The nested input of the model from the flags a user gave (left-out flags are None)."""
    out: dict[str, Any] = {}
    for f in flags:
        value = getattr(args, f.dest, None)
        if value is None:
            continue
        node = out
        for key in f.path[:-1]:
            node = node.setdefault(key, {})
        node[f.path[-1]] = value
    return out


# -- flags shared between commands --------------------------------------------------------
def parent(*adders: Callable[[argparse.ArgumentParser], object]) -> argparse.ArgumentParser:
    p = Parser(add_help=False)
    for add in adders:
        add(p)
    return p


def debug_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")


def db_flag(p: argparse.ArgumentParser, *, from_config: bool = False) -> None:
    """--db; for nas run no default here, so a configuration file may name the database."""
    p.add_argument(
        "--db", default=None if from_config else default_db_url(), metavar="URL",
        help=f"SQLAlchemy URL or SQLite file, e.g. postgresql+psycopg://USER@HOST:PORT/NAME (default: "
        f"${DB_ENV}, else {DEFAULT_DB_URL})",
    )  # fmt: skip


def run_key(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run name or id")


def json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")


def duration(text: str) -> float:
    from evonas.nas.config import parse_duration

    try:
        seconds = parse_duration(text)
        if not isinstance(seconds, float) or seconds <= 0:
            raise ValueError(f"must be a positive duration such as 900s, 45m or 2h. Got {text!r} instead.")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return seconds


def ray_address_default() -> str | None:
    return os.environ.get("RAY_ADDRESS") or None
