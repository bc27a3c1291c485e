"""The real backend app on stub speech engines, served over real HTTP from a thread.

For tests that need the backend's real HTTP behaviour (routing, validation, idempotency,
storage, limits, uvicorn's serving config) but not its seconds of speech CPU: the bot's tests,
HTTP edge cases. Only the engines are stand-ins, and they are deterministic:

- speech to text hears ``StubEngines.transcript`` (default "hello there"), also in a drill,
  where the backend compares it with the drill sentence: set it to the sentence for a note
  that says the drill (otherwise the answer is ``drill_match="different_sentence"``, unscored);
- the scorer gives every expected word 90 and no error, unless ``StubEngines.errors`` maps a
  word to an error slug (then 30 and that error);
- text to speech returns 0.2 s of a tone as WAV; no translator, no LLM.

Usage::

    with StubBackend(tmp_path, env={"BOT_PRIVATE_KEY": "k"}) as backend:
        httpx.post(f"{backend.url}/bot/session", headers={"X-Bot-Key": "k"})
        backend.engines.transcript = "i tink so"

As its own process, with the fault layer (:mod:`phonicflow_testing.fault_layer`) in front, for
tests of the bot that drive it from another process::

    python -m phonicflow_testing.stub_backend --port 8000 --storage DIR [--bot-key KEY]

Settings come from ``env`` exactly as the process would read them (``BackendSettings``).
``clock`` (a callable returning an aware datetime) is the time turns and progress are stored
at: a test moves it to play out days of practice without sleeping.
"""

from __future__ import annotations

import asyncio
import math
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from phonicflow_testing.processes import free_port, wait_for_port


def tone_wav(seconds: float = 0.2, rate: int = 16000) -> bytes:
    frames = int(seconds * rate)
    samples = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(frames)
    )
    header = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(samples)) + samples


@dataclass
class StubEngines:
    transcript: str = "hello there"
    errors: dict[str, str] = field(default_factory=dict)
    #: Whisper's confidence in the transcript (None: not known, as with pocketsphinx)
    avg_logprob: float | None = -0.2
    #: (text, language) of every TTS call, in order: what the voice notes say ("slow" appended
    #: to the language of a slow call)
    spoken: list[tuple[str, str]] = field(default_factory=list)

    def build(self, settings: Any) -> Any:
        """An ``Engines`` of the backend, with the stand-ins below (the seam of create_app)."""
        from phonicflow_backend.pipeline import Engines
        from phonicflow_backend.scoring import Assessment, WordResult
        from phonicflow_backend.stt import Transcript

        outer = self

        class Stt:
            name = "stub-stt"

            def transcribe(self, pcm16: bytes, sample_rate: int) -> str:
                return outer.transcript

            def listen(
                self, pcm16: bytes, sample_rate: int, target: str | None = None
            ) -> Transcript:
                return Transcript(outer.transcript, outer.avg_logprob)

        class Scorer:
            def assess(self, pcm16: bytes, sample_rate: int, expected_text: str) -> Assessment:
                words = []
                for i, w in enumerate(expected_text.split()):
                    error = outer.errors.get(w.lower().strip(".,!?"))
                    words.append(
                        WordResult(
                            expected=w,
                            heard="x" if error else w,
                            score=30.0 if error else 90.0,
                            error=error,
                            error_type="substitution" if error else None,
                            expected_phones="",
                            heard_phones="",
                            start=i * 0.3,
                            end=i * 0.3 + 0.25,
                            tip_en="Tip." if error else "",
                            tip_pt="Dica." if error else "",
                        )
                    )
                score = sum(w.score for w in words) / max(1, len(words))
                return Assessment(overall_score=score, words=words, aligned=True)

            def second_opinion(
                self, assessment: Assessment, expected_text: str, model: Any
            ) -> tuple[Assessment, list[Any]]:
                return assessment, []

        class Tts:
            name = "stub-tts"

            async def speak(self, text: str, language: str, *, slow: bool = False) -> bytes:
                outer.spoken.append((text, f"{language} slow" if slow else language))
                return tone_wav()

        return Engines(stt=Stt(), scorer=Scorer(), translator=None, tts=Tts(), llm=None)


class StubBackend:
    def __init__(
        self,
        storage_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        engines: StubEngines | None = None,
        clock: Callable[[], datetime] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.clock = clock
        self.url = f"http://127.0.0.1:{self.port}"
        self.storage_dir = storage_dir
        self.engines = engines or StubEngines()
        self.env = {
            "BACKEND_HOST": "127.0.0.1",
            "BACKEND_PORT": str(self.port),
            "STORAGE_DIR": str(storage_dir),
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.database_url = self.env.get(
            "DATABASE_URL", f"sqlite+aiosqlite:///{(storage_dir / 'phonicflow.db').resolve()}"
        )
        self._thread: threading.Thread | None = None
        self._server: Any = None

    def server(self, *, with_faults: bool = False) -> Any:
        """A ``uvicorn.Server`` of the real app on the stub engines (not started)."""
        import uvicorn

        from phonicflow_backend.app import create_app
        from phonicflow_backend.config import BackendSettings
        from phonicflow_backend.serving import server_config

        # the variables as init values: they win over this test process's own environment
        values: dict[str, Any] = {name.lower(): value for name, value in self.env.items()}
        settings = BackendSettings(**values)
        extra = {"clock": self.clock} if self.clock is not None else {}
        app: Any = create_app(settings, load_engines=self.engines.build, **extra)
        if with_faults:
            from phonicflow_testing.fault_layer import FaultLayer

            store = app.state.backend.store

            async def wipe() -> None:
                from phonicflow_backend.db.schema import Base

                async with store.engine.begin() as conn:
                    for table in reversed(Base.metadata.sorted_tables):
                        await conn.execute(table.delete())

            def set_engines(values: dict[str, Any]) -> None:
                for name, value in values.items():
                    setattr(self.engines, name, value)

            app = FaultLayer(app, on_wipe=wipe, on_engines=set_engines)
        return uvicorn.Server(server_config(app, settings))

    def start(self) -> StubBackend:
        self._server = self.server()
        self._server.install_signal_handlers = lambda: None  # not the main thread
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve()), name="stub-backend", daemon=True
        )
        self._thread.start()
        wait_for_port(self.port)
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TimeoutException:
                pass  # the migrations run on the server's event loop: seconds on a busy machine
            threading.Event().wait(0.05)
        raise TimeoutError("the stub backend did not become ready")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(15)

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, **kwargs)

    def __enter__(self) -> StubBackend:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="the real backend on stub engines, with faults")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--bot-key", default=None)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    env = {"LOG_LEVEL": "WARNING"}
    if args.bot_key:
        env["BOT_PRIVATE_KEY"] = args.bot_key
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    backend = StubBackend(args.storage, env=env, port=args.port)
    backend.server(with_faults=True).run()


if __name__ == "__main__":
    main()
