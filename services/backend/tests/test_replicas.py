"""Two backend processes sharing one PostgreSQL, as the chart runs them: one history, one turn
per Idempotency-Key whichever replica a repeat reaches, and nothing stored lost when a replica
is SIGKILLed in the middle of a turn.

Text turns coach through a stand-in Ollama whose answers can be slowed down, so a turn lasts
long enough to overlap a repeat, or to be killed halfway.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from phonicflow_testing.backend import BackendServer, new_session
from phonicflow_testing.postgres import PostgresServer
from phonicflow_testing.stub_http import StubHandler, serving

#: A claim is taken over after this long without a heartbeat (default 10 s; short here).
STALE_S = 1.0


class SlowOllama(StubHandler):
    delay: ClassVar[float] = 0.0

    def do_POST(self) -> None:
        body = json.loads(self.body())
        time.sleep(SlowOllama.delay)
        self.reply(200, json.dumps({"model": body["model"], "response": "Nice!",
                                    "done": True}).encode())  # fmt: skip


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[tuple[BackendServer, BackendServer]]:
    url = postgres_server.create_database()
    with serving(SlowOllama) as ollama:
        env = {"OLLAMA_URL": ollama, "IDEMPOTENCY_STALE_S": str(STALE_S), "TTS_ENGINE": "none"}
        a = BackendServer(tmp_path_factory.mktemp("a"), env=env, database_url=url)
        b = BackendServer(tmp_path_factory.mktemp("b"), env=env, database_url=url)
        with a, b:
            yield a, b


@pytest.fixture(autouse=True)
def fast_llm() -> None:
    SlowOllama.delay = 0.0


def say(server: BackendServer, session: str, text: str, key: str | None = None) -> httpx.Response:
    headers = {"session_id": session} | ({"Idempotency-Key": key} if key else {})
    with server.client() as client:
        return client.post("/process", headers=headers, data={"text": text})


def history(server: BackendServer, session: str) -> list[dict[str, Any]]:
    with server.client() as client:
        turns: list[dict[str, Any]] = client.get(f"/conversation/{session}").json()["history"]
    return turns


def in_background(work: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``work`` in a thread; its result (or the exception it raised) lands in the list."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(work())
        except Exception as exc:  # e.g. the replica serving it was killed
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_turns_sent_to_either_replica_make_one_history_in_order(
    replicas: tuple[BackendServer, BackendServer],
) -> None:
    a, b = replicas
    with a.client() as client:
        session = new_session(client, telegram_user_id=1001)
    for i in range(6):
        assert say((a, b)[i % 2], session, f"message {i}").status_code == 200
    assert [t["user"] for t in history(a, session)] == [f"message {i}" for i in range(6)]
    assert history(a, session) == history(b, session)


def test_a_repeat_that_reaches_the_other_replica_mid_turn_is_the_same_turn(
    replicas: tuple[BackendServer, BackendServer],
) -> None:
    a, b = replicas
    with a.client() as client:
        session = new_session(client)
    SlowOllama.delay = 2.0
    first, out = in_background(lambda: say(a, session, "Only once, please", "tg-7-1"))
    time.sleep(0.7)  # a is working on it now
    repeat = say(b, session, "Only once, please", "tg-7-1")
    first.join(30)
    original = out[0]
    assert original.status_code == 200 and repeat.status_code == 200, repeat.text
    assert repeat.headers["idempotent-replayed"] == "true"
    assert repeat.json() == original.json()
    assert [t["turn_id"] for t in history(b, session)] == [original.json()["turn_id"]]


def test_a_replica_killed_mid_turn_loses_nothing_and_the_repeat_is_one_turn(
    replicas: tuple[BackendServer, BackendServer], tmp_path: Path
) -> None:
    a, b = replicas
    with b.client() as client:
        session = new_session(client, telegram_user_id=1002)
    assert say(b, session, "Stored before the crash").status_code == 200
    SlowOllama.delay = 3.0
    doomed, out = in_background(lambda: say(a, session, "Interrupted note", "tg-8-1"))
    time.sleep(1.0)
    a.process.kill()
    doomed.join(10)
    assert isinstance(out[0], httpx.TransportError), "the killed replica never answered"
    SlowOllama.delay = 0.0
    started = time.monotonic()
    repeat = say(b, session, "Interrupted note", "tg-8-1")
    assert repeat.status_code == 200, repeat.text
    # the dead replica's claim goes stale after STALE_S; the repeat waited for it, not longer
    assert time.monotonic() - started < STALE_S + 5
    again = say(b, session, "Interrupted note", "tg-8-1")
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["turn_id"] == repeat.json()["turn_id"]
    assert [t["user"] for t in history(b, session)] == [
        "Stored before the crash",
        "Interrupted note",
    ]
    a.start()  # the killed replica comes back to the same database and sees the same history
    assert [t["user"] for t in history(a, session)] == [
        "Stored before the crash",
        "Interrupted note",
    ]
