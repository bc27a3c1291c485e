"""Start the real backend (``python -m phonicflow_backend``) for a test, and make its input.

Usage::

    from phonicflow_testing.backend import BackendServer, speech_wav_16k

    with BackendServer(tmp_path / "storage", env={"BOT_PRIVATE_KEY": "k"}) as server:
        # or BackendServer(..., database_url=postgres_url): PostgreSQL instead of SQLite
        client = server.client(headers={"X-Bot-Key": "k"})       # httpx.Client on its URL
        session = client.post("/bot/session").json()["session_id"]
        client.post("/process", headers={"session_id": session},
                    files={"file": ("note.wav", speech_wav_16k("I think so"), "audio/wav")})

The server listens on a free 127.0.0.1 port with its own ``STORAGE_DIR`` (where its SQLite
database lives unless ``database_url`` is given); start-up waits for ``/readyz`` (engines
loaded, database migrated), so the first request never sees a 503.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from phonicflow_testing.processes import ServiceProcess, free_port
from phonicflow_testing.speech import require, synth_wav

#: Loading pocketsphinx, the scorer and the translator takes a few seconds on 2 cores.
BACKEND_STARTUP_TIMEOUT_S = 60.0


class BackendServer:
    def __init__(
        self,
        storage_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        wait_ready: bool = True,
        database_url: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.storage_dir = storage_dir
        self.database_url = database_url or (
            f"sqlite+aiosqlite:///{(storage_dir / 'phonicflow.db').resolve()}"
        )
        full_env = {
            "BACKEND_HOST": "127.0.0.1",
            "BACKEND_PORT": str(self.port),
            "STORAGE_DIR": str(storage_dir),
            **({"DATABASE_URL": database_url} if database_url else {}),
            "LOG_LEVEL": "INFO",
            "OTEL_TRACES_EXPORTER": "none",
            **(env or {}),
        }
        self.process = ServiceProcess(
            "phonicflow_backend",
            env=full_env,
            port=self.port,
            name="backend",
            ready=self._ready if wait_ready else None,
            startup_timeout=BACKEND_STARTUP_TIMEOUT_S,
        )

    def _ready(self) -> bool:
        return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 60)
        return httpx.Client(base_url=self.url, **kwargs)

    def logs(self) -> str:
        return self.process.logs()

    def start(self) -> BackendServer:
        self.process.start()
        return self

    def stop(self) -> int | None:
        return self.process.stop()

    def __enter__(self) -> BackendServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def to_wav(audio: bytes, rate: int = 16000, channels: int = 1, sample_fmt: str = "s16") -> bytes:
    """Re-encode any audio as WAV at ``rate``/``channels`` (``sample_fmt`` s16, u8, s32, flt)."""
    codec = {"s16": "pcm_s16le", "u8": "pcm_u8", "s32": "pcm_s32le", "flt": "pcm_f32le"}[sample_fmt]
    # a real file, not a pipe: ffmpeg seeks back to write the true sizes into the header
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        subprocess.run(
            [require("ffmpeg"), "-v", "error", "-i", "pipe:0", "-ar", str(rate), "-ac",
             str(channels), "-c:a", codec, "-f", "wav", str(out)],
            input=audio, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return out.read_bytes()


def speech_wav_16k(text: str, voice: str = "en-us", words_per_minute: int = 150) -> bytes:
    """``text`` spoken by espeak-ng as the bot sends it: WAV PCM16, 16 kHz, mono."""
    return to_wav(synth_wav(text, voice, words_per_minute))


def new_session(client: httpx.Client, **body: Any) -> str:
    """Create a session with ``POST /bot/session`` and return its id."""
    response = client.post("/bot/session", json=body or {})
    assert response.status_code == 201, response.text
    return str(response.json()["session_id"])


def send_audio(
    client: httpx.Client, session_id: str, wav: bytes, target_text: str | None = None
) -> httpx.Response:
    """``POST /process`` with ``wav`` as the ``file`` field (and a drill target if given)."""
    return client.post(
        "/process",
        headers={"session_id": session_id},
        files={"file": ("note.wav", wav, "audio/wav")},
        data={"target_text": target_text} if target_text else None,
    )


def stored_rows(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of a backend's database (reflected, so any table a migration
    adds is included): what "nothing of the learner is left" is checked against."""
    from sqlalchemy import MetaData, select
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> dict[str, list[dict[str, Any]]]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                meta = MetaData()
                await conn.run_sync(meta.reflect)
                return {
                    name: [dict(r._mapping) for r in await conn.execute(select(table))]
                    for name, table in meta.tables.items()
                    if name != "alembic_version"
                }
        finally:
            await engine.dispose()

    # in a thread of its own: callers may be inside a running event loop (async tests)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def rows_mentioning(database_url: str, *needles: str | int) -> list[tuple[str, dict[str, Any]]]:
    """(table, row) for each stored row in which any of ``needles`` appears in any column."""
    found = []
    for table, rows in stored_rows(database_url).items():
        for row in rows:
            text = " ".join(
                v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row.values()
            )
            if any(str(n) in text for n in needles):
                found.append((table, row))
    return found
