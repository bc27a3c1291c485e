"""A real PostgreSQL server for tests: Debian's postgresql, initdb'd in a temp dir, on a free port.

Usage::

    with PostgresServer() as pg:                     # ~2 s: initdb + start
        url = pg.create_database()                    # a fresh, empty database per test
        # postgresql+asyncpg://phonicflow@127.0.0.1:<port>/t_<hex>
        pg.restart()                                  # a database restart, mid-test
        pg.kill()                                     # SIGKILL the postmaster (a crash)

The pytest fixtures ``postgres_server`` (session) and ``postgres_url`` (per test) in
:mod:`phonicflow_testing.plugin` wrap it. PostgreSQL refuses to run as root: as root the server
runs as the ``postgres`` user the Debian package creates. Durability is switched off
(``fsync=off``): these are tests of our code, not of PostgreSQL's disk writes.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from phonicflow_testing.processes import ServiceProcess, free_port

USER = "phonicflow"


def pg_bindir() -> Path:
    """Where initdb and postgres are: PATH, else Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not versions:
        raise RuntimeError(
            "PostgreSQL is not installed: run `make setup` (apt-get install postgresql)"
        )
    return Path(versions[0]).parent


class PostgresServer:
    def __init__(self, port: int | None = None) -> None:
        self.bindir = pg_bindir()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "run"
        self._run_as: str | None = "postgres" if os.geteuid() == 0 else None
        self.process: ServiceProcess | None = None

    # -- commands ---------------------------------------------------------------------------
    def _argv(self, argv: Sequence[str]) -> list[str]:
        if self._run_as is None:
            return list(argv)
        # setpriv execs (runuser would fork and wait, and a SIGKILL would miss the server)
        return [
            "setpriv",
            f"--reuid={self._run_as}",
            f"--regid={self._run_as}",
            "--init-groups",
            "--",
            *argv,
        ]

    def _initdb(self) -> None:
        self.sockets.mkdir(parents=True)
        if self._run_as is not None:
            entry = pwd.getpwnam(self._run_as)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            self._argv(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                    "-N",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.stdout.strip()

    def _ready(self) -> bool:
        try:
            return self.psql("SELECT 1") == "1"
        except subprocess.CalledProcessError:
            return False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._initdb()
        self.process = ServiceProcess(
            self._argv(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.sockets),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ]
            ),
            name="postgres",
            port=self.port,
            ready=self._ready,
            startup_timeout=60,
        ).start()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGINT)  # "fast" shutdown: running transactions abort

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would; its backends exit on their own."""
        if self.process is not None:
            self.process.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
