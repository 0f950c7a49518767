"""A real PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder, listening
on 127.0.0.1 only, one fresh database per test. Debian's ``postgresql`` package provides the
binaries (``.ci/run`` installs it); without them the tests fail, never skip."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

USER = "evonas"


def _bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(
            f"PostgreSQL's {name} was not found (PATH or /usr/lib/postgresql/*/bin): install Debian's "
            "postgresql package (apt-get install postgresql) to run the PostgreSQL tests."
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One server for the test session; ``new_database()`` gives a URL to an empty database."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="evonas-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root: run the server as Debian's postgres user
            os.chmod(self.folder, 0o777)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run(_bin("initdb"), "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync")
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
            "-c max_connections=200",
            "start",
        )  # fmt: skip

    def _run(self, *cmd: str) -> None:
        out = subprocess.run([*self._as_user, *cmd], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {out.stderr or out.stdout}")

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        auth = f"{USER}:{password}" if password else USER
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import sqlalchemy

        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = sqlalchemy.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self._as_user, _bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def server() -> Iterator[PostgresServer]:
    pg = PostgresServer()
    try:
        yield pg
    finally:
        pg.stop()
