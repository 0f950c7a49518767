"""The SQLAlchemy implementation of :class:`RunStorage` (SQLite by default, any URL works)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    or_,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from evonas import __version__
from evonas.clock import utc_now
from evonas.errors import INFRASTRUCTURE, RunNotFoundError, StorageError
from evonas.metrics import DEFAULT_OBJECTIVE, Metrics
from evonas.statuses import EvalStatus, RunStatus
from evonas.storage import schema
from evonas.storage.base import RunStorage, check_new_run_name
from evonas.storage.records import GenerationRecord, IndividualRecord, RunInfo
from evonas.storage.urls import DEFAULT_DB_URL, mask_password, normalise_db_url, sqlite_path

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    __tablename__ = "evonas_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    seed: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    evonas_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    eval_key: Mapped[str] = mapped_column(String(64), index=True)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # nullable only because schema 0003 added it to stored runs (and filled it in); always set
    uid: Mapped[str] = mapped_column(String(32), nullable=True, unique=True, index=True)
    input_shape: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    data_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    generations: Mapped[list[GenerationRow]] = relationship(
        back_populates="run", order_by="GenerationRow.index", cascade="all, delete-orphan"
    )


class GenerationRow(Base):
    __tablename__ = "generations"
    __table_args__ = (UniqueConstraint("run_id", "index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    population: Mapped[list[str]] = mapped_column(JSON)
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    run: Mapped[RunRow] = relationship(back_populates="generations")
    individuals: Mapped[list[IndividualRow]] = relationship(
        back_populates="generation", order_by="IndividualRow.position", cascade="all, delete-orphan"
    )


class IndividualRow(Base):
    __tablename__ = "individuals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64), index=True)
    genome: Mapped[str] = mapped_column(Text)
    parents: Mapped[list[str]] = mapped_column(JSON)
    operator: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20))
    seed: Mapped[int] = mapped_column(Integer)
    acc: Mapped[float | None] = mapped_column(Float, nullable=True)
    nmi: Mapped[float | None] = mapped_column(Float, nullable=True)
    ari: Mapped[float | None] = mapped_column(Float, nullable=True)
    recon_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    baseline_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    params: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seconds: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    node: Mapped[str | None] = mapped_column(String(80), nullable=True)
    device: Mapped[str | None] = mapped_column(String(20), nullable=True)
    silhouette: Mapped[float | None] = mapped_column(Float, nullable=True)
    rung_acc: Mapped[float | None] = mapped_column(Float, nullable=True)
    pruned_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    evaluations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    rung_scores: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    head_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    objective: Mapped[str | None] = mapped_column(String(20), nullable=True)
    generation: Mapped[GenerationRow] = relationship(back_populates="individuals")


class JournalRow(Base):
    """Evaluations finished in a generation not yet stored: what a crash would otherwise lose."""

    __tablename__ = "evaluation_journal"
    __table_args__ = (UniqueConstraint("run_id", "generation", "hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)


# the columns of an individual besides its metrics (one column each, see Metrics.fields())
_INDIVIDUAL_FIELDS = [
    "hash", "genome", "operator", "status", "seed", "seconds", "error", "node", "device",
    "rung_acc", "pruned_at", "head_seconds", "objective",
]  # fmt: skip


_LIST_HINT = "list runs with 'nas runs'"
SCHEMA_LOCK = 0x65766F6E  # PostgreSQL advisory lock key held while creating or upgrading the schema


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # let SQLAlchemy's "begin" event issue BEGIN (pysqlite's own would be deferred and late)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 30000")  # wait for another writer instead of failing
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Write transactions take the write lock up front (BEGIN IMMEDIATE): a deferred transaction
    # that reads and then writes can fail at once with SQLITE_BUSY when another process wrote in
    # between, whatever the busy timeout. Readers stay deferred and never block writers (WAL).
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


class SQLStorage(RunStorage):
    """Runs, generations and individuals in any database SQLAlchemy reaches.

    Opening a database of an older evonas schema upgrades it (``upgrade=False`` refuses instead:
    ``nas db upgrade`` then does it explicitly); another application's database, or one of a newer
    evonas, is refused and left byte-identical."""

    def __init__(self, url: str = DEFAULT_DB_URL, *, create: bool = True, upgrade: bool = True) -> None:
        self.url = normalise_db_url(url)
        self._check_sqlite_file(create)
        try:
            self.engine: Engine = create_engine(self.url)
        except (SQLAlchemyError, ValueError) as exc:
            raise StorageError(f"Cannot use database URL {self.safe_url}: {exc}") from None
        except ModuleNotFoundError as exc:
            raise StorageError(
                f"The database URL {self.safe_url} needs the Python package {exc.name!r}, which is not "
                "installed: install it (for PostgreSQL: pip install 'evonas[postgres]')."
            ) from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        with self._wrap_errors():
            self.revision_before = self._init_schema(upgrade)

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages."""
        return mask_password(self.url)

    # -- set-up --------------------------------------------------------------------------
    def _check_sqlite_file(self, create: bool) -> None:
        if not self.url.startswith("sqlite:"):
            return
        path = sqlite_path(self.url)
        if path is None and self.url.startswith("sqlite:///file:") and "mode=memory" not in self.url:
            return  # a URI file name: SQLite opens it as the URI says
        if path is None:
            raise StorageError(
                f"--db {self.url!r} is not a database file: evonas keeps every result in its database "
                "(it is the checkpoint), so an in-memory one would lose them. Name a file, e.g. --db runs.db."
            )
        if path.is_dir():
            raise StorageError(
                f"--db {path} is a folder; name a database file in it, e.g. {path / 'evonas.db'}."
            )
        if path.exists():
            with path.open("rb") as fh:
                head = fh.read(16)
            if head and head != b"SQLite format 3\x00":
                raise StorageError(
                    f"{path} is not an SQLite database (or is corrupt); it was left untouched. "
                    "Point --db at another file."
                )
        elif not create:
            raise StorageError(f"No database at {path}: start a run with 'nas run --db {path}' first.")
        elif not path.parent.exists():
            raise StorageError(f"Cannot create {path}: the folder {path.parent} does not exist.")

    def _init_schema(self, upgrade: bool) -> str | None:
        """Check the database is evonas's (reading only), then create or upgrade its schema under
        the write lock; returns the revision it had (None: it was new)."""
        with self.engine.connect() as conn, conn.begin():
            found = schema.current_revision(conn)  # raises, having written nothing, if not ours
        head = schema.head_revision()
        if found == head:
            self._enable_wal()
            return found
        if found is not None and not upgrade:
            raise StorageError(
                f"The database {self.safe_url} has evonas schema revision {found}; this evonas reads "
                f"{head}. Upgrade it with: nas db upgrade --db {self.safe_url}"
            )
        self._enable_wal()
        # under the write lock, so two processes creating or upgrading one database do not race
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            if self.engine.dialect.name == "postgresql":  # its lock: one transaction-scoped lock
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            found = schema.current_revision(conn)
            if found != head:
                if found is not None:
                    log.info("upgrading %s from schema revision %s to %s", self.safe_url, found, head)
                schema.upgrade(conn, found)
        return found

    def _enable_wal(self) -> None:
        if self.engine.dialect.name == "sqlite":  # readers never block the writer, nor it them
            raw = self.engine.raw_connection()  # outside any transaction, as SQLite requires
            try:
                raw.driver_connection.execute("PRAGMA journal_mode = WAL")  # type: ignore[union-attr]
            finally:
                raw.close()

    @contextmanager
    def _wrap_errors(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            msg = str(getattr(exc, "orig", exc) or exc).splitlines()[0]
            if "not a database" in msg:
                raise StorageError(
                    f"{self.safe_url} is not a database (or is corrupt); it was left untouched."
                ) from None
            raise StorageError(f"Database error on {self.safe_url}: {msg}") from exc

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on any error."""
        with self._wrap_errors(), self._sessions() as session, session.begin():
            if write:
                session.connection(execution_options={"write": True})
            yield session

    # -- runs ----------------------------------------------------------------------------
    def create_run(
        self,
        name: str,
        config: dict[str, Any],
        seed: int,
        eval_key: str = "",
        owner: str | None = None,
        *,
        input_shape: tuple[int, int, int] | None = None,
        data_fingerprint: str | None = None,
    ) -> RunInfo:
        check_new_run_name(name)
        now = utc_now()
        row = RunRow(
            name=name, status=RunStatus.RUNNING, seed=seed, config=config, evonas_version=__version__,
            created_at=now, updated_at=now, eval_key=eval_key, owner=owner, uid=uuid.uuid4().hex,
            input_shape=list(input_shape) if input_shape else None, data_fingerprint=data_fingerprint,
            heartbeat_at=now,
        )  # fmt: skip
        try:
            with self._transaction(write=True) as s:
                s.add(row)
        except StorageError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise StorageError(
                    f"A run named {name!r} already exists in {self.safe_url}; choose another --name."
                ) from None
            raise
        return _run_info(row)

    def get_run(self, key: str | int) -> RunInfo:
        with self._transaction() as s:
            return _run_info(self._lookup(s, key))

    def _lookup(self, s: Session, key: str | int) -> RunRow:
        """A user's key: an int is an id; a string is a name, else (all digits) an id. New runs
        cannot be named with an integer, so only a run stored before that rule can shadow an id."""
        row = None
        if isinstance(key, str):
            row = s.scalars(select(RunRow).where(RunRow.name == key)).first()
        if row is None and str(key).isdigit():
            row = s.get(RunRow, int(key))
        if row is None:
            raise RunNotFoundError(
                f"No run {str(key)!r} in {self.safe_url}; {_LIST_HINT} --db {self.safe_url}."
            )
        return row

    def _by_id(self, s: Session, run_id: int) -> RunRow:
        """The run with this id, never a run named like it (the storage's own updates)."""
        row = s.get(RunRow, int(run_id))
        if row is None:
            raise RunNotFoundError(f"No run with id {run_id} in {self.safe_url}.")
        return row

    def list_runs(self) -> list[RunInfo]:
        with self._transaction() as s:
            return [_run_info(r) for r in s.scalars(select(RunRow).order_by(RunRow.id))]

    def update_run(
        self,
        run_id: int,
        status: str,
        *,
        error: str | None = None,
        config: dict[str, Any] | None = None,
        owner: str | None = None,
        stop_reason: str | None = None,
    ) -> None:
        with self._transaction(write=True) as s:
            row = self._by_id(s, run_id)
            row.status = RunStatus(status)
            row.stop_reason = stop_reason
            row.updated_at = utc_now()
            row.error = error
            running = row.status == RunStatus.RUNNING
            row.owner = owner if running else None
            row.heartbeat_at = row.updated_at if running else None
            row.finished_at = None if running else row.updated_at
            if config is not None:
                row.config = config

    def heartbeat(self, run_id: int) -> None:
        with self._transaction(write=True) as s:
            self._by_id(s, run_id).heartbeat_at = utc_now()

    def update_progress(self, run_id: int, progress: dict[str, Any]) -> None:
        with self._transaction(write=True) as s:
            row = self._by_id(s, run_id)
            row.progress = progress
            row.updated_at = row.heartbeat_at = utc_now()

    def find_evaluations(self, eval_key: str, hashes: Iterable[str]) -> dict[str, IndividualRecord]:
        wanted = list(set(hashes))
        found: dict[str, IndividualRecord] = {}
        with self._transaction() as s:
            for i in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
                rows = s.scalars(
                    select(IndividualRow)
                    .join(RunRow, IndividualRow.run_id == RunRow.id)
                    .where(
                        RunRow.eval_key == eval_key,
                        IndividualRow.hash.in_(wanted[i : i + 500]),
                        IndividualRow.status.not_in(("cached", "pruned")),  # pruned: relative to a run
                        or_(IndividualRow.error.is_(None), ~IndividualRow.error.startswith(INFRASTRUCTURE)),
                    )
                    .order_by(IndividualRow.id)
                )
                for row in rows:
                    found.setdefault(row.hash, _individual(row))
        return found

    # -- generations ---------------------------------------------------------------------
    def journal_evaluation(self, run_id: int, generation: int, genome_hash: str, payload: str) -> None:
        """Idempotent: the unique (run, generation, hash) constraint keeps the first payload."""
        try:
            with self._transaction(write=True) as s:
                s.add(JournalRow(run_id=run_id, generation=generation, hash=genome_hash, payload=payload))
        except StorageError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise

    def load_journal(self, run_id: int, generation: int) -> dict[str, str]:
        with self._transaction() as s:
            rows = s.scalars(
                select(JournalRow)
                .where(JournalRow.run_id == run_id, JournalRow.generation == generation)
                .order_by(JournalRow.id)  # the order they were journaled in (steady-state relies on it)
            )
            return {r.hash: r.payload for r in rows}

    def record_generation(self, run_id: int, generation: GenerationRecord) -> None:
        with self._transaction(write=True) as s:
            run = self._by_id(s, run_id)
            s.execute(
                delete(JournalRow).where(
                    JournalRow.run_id == run.id, JournalRow.generation == generation.index
                )
            )
            gen = GenerationRow(
                index=generation.index, population=list(generation.population),
                seconds=generation.seconds, created_at=utc_now(),
            )  # fmt: skip
            run.generations.append(gen)
            run.updated_at = run.heartbeat_at = utc_now()
            for pos, ind in enumerate(generation.individuals):
                values = {f: getattr(ind, f) for f in _INDIVIDUAL_FIELDS} | ind.metrics.to_json()
                row = IndividualRow(run_id=run.id, position=pos, parents=list(ind.parents), **values)
                row.evaluations = list(ind.evaluations) or None
                row.rung_scores = {str(k): v for k, v in ind.rung_scores.items()} or None
                gen.individuals.append(row)

    def load_generations(self, run_id: int) -> list[GenerationRecord]:
        with self._transaction() as s:
            run = self._by_id(s, run_id)
            return [
                GenerationRecord(
                    index=g.index,
                    population=tuple(g.population),
                    individuals=tuple(_individual(i) for i in g.individuals),
                    seconds=g.seconds,
                )
                for g in run.generations
            ]

    def close(self) -> None:
        self.engine.dispose()


def _individual(row: IndividualRow) -> IndividualRecord:
    values = {f: getattr(row, f) for f in _INDIVIDUAL_FIELDS}
    return IndividualRecord(
        parents=tuple(row.parents),
        evaluations=tuple(row.evaluations or ()),
        rung_scores={int(k): float(v) for k, v in (row.rung_scores or {}).items()},
        metrics=Metrics.from_mapping({k: getattr(row, k) for k in Metrics.fields()}),
        **values | {"status": EvalStatus(row.status), "objective": row.objective or DEFAULT_OBJECTIVE},
    )


def _run_info(row: RunRow) -> RunInfo:
    shape = tuple(int(v) for v in row.input_shape) if row.input_shape else None
    return RunInfo(
        id=row.id, name=row.name, status=RunStatus(row.status), seed=row.seed,
        config=json.loads(json.dumps(row.config)), evonas_version=row.evonas_version,
        created_at=row.created_at, updated_at=row.updated_at,
        finished_at=row.finished_at, error=row.error, owner=row.owner, eval_key=row.eval_key,
        progress=json.loads(json.dumps(row.progress)) if row.progress else None,
        uid=row.uid or "", input_shape=shape, data_fingerprint=row.data_fingerprint,  # type: ignore[arg-type]
        heartbeat_at=row.heartbeat_at, stop_reason=row.stop_reason,
    )  # fmt: skip
