"""pytest fixtures every PhonicFlow suite can use.

- ``redis_server`` (session): a real ``redis-server`` on a free loopback port, no persistence;
  yields its URL, e.g. ``redis://127.0.0.1:40123/0``.
- ``redis_url``: the same server with its database flushed before the test.
- ``unused_port``: a free TCP port.
- ``postgres_server`` (session): a real PostgreSQL on a free port; ``postgres_url``: a fresh
  database on it for one test.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from phonicflow_testing.postgres import PostgresServer
from phonicflow_testing.processes import ServiceProcess, free_port

# the in-cluster suite's option (--k8s) and fixtures
pytest_plugins = ["phonicflow_testing.k8s_plugin"]


def _redis_ping(port: int) -> bool:
    cli = shutil.which("redis-cli")
    if cli is None:
        return True  # the port check already passed
    out = subprocess.run(
        [cli, "-p", str(port), "PING"], capture_output=True, text=True, timeout=5, check=False
    )
    return out.stdout.strip() == "PONG"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: run `make setup` (apt-get install redis-server)"
        )
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-")
    proc = ServiceProcess(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--protected-mode", "yes"],
        name="redis-server", port=port, ready=lambda: _redis_ping(port),
    )  # fmt: skip
    with proc:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def redis_url(redis_server: str) -> str:
    port = redis_server.rsplit(":", 1)[1].split("/")[0]
    cli = shutil.which("redis-cli")
    if cli:
        subprocess.run([cli, "-p", port, "FLUSHALL"], check=True, capture_output=True, timeout=5)
    return redis_server


@pytest.fixture
def unused_port() -> int:
    return free_port()


def pytest_report_header() -> str:
    tools = ", ".join(
        f"{tool}={'yes' if shutil.which(tool) else 'MISSING'}"
        for tool in ("ffmpeg", "redis-server", "espeak-ng", "helm")
    )
    return f"phonicflow tools: {tools} (checked {time.strftime('%H:%M:%S')})"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL for the whole run (see :mod:`phonicflow_testing.postgres`)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL (asyncpg URL)."""
    return postgres_server.create_database()
