"""The storage interface against both real databases: a fresh PostgreSQL database on the
session's server, and SQLite in a temp dir. Every test runs on both."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from phonicflow_backend.audio import pcm_to_wav
from phonicflow_backend.db.schema import Base
from phonicflow_backend.db.store import (
    Busy,
    KeyClaim,
    KeyReusedError,
    NewTurn,
    NoAudioError,
    Replay,
    Retention,
    Store,
    UnknownSessionError,
)
from phonicflow_testing.backend import rows_mentioning, stored_rows
from phonicflow_testing.postgres import PostgresServer

WAV = pcm_to_wav(b"\1\0" * 1600, 16000)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'phonicflow.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


async def open_store(url: str, **retention: float) -> Store:
    store = Store.connect(url, Retention(**retention))  # type: ignore[arg-type]
    await store.migrate()
    return store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = await open_store(database_url)
    yield store
    await store.close()


def files_contain(folder: Path, text: str) -> bool:
    return any(text.encode() in p.read_bytes() for p in folder.iterdir())


def turn(text: str = "hello", **changes: object) -> NewTurn:
    base = NewTurn(turn_id=str(uuid.uuid4()), user_text=text, conversational="Hi!",
                   coaching="Nice.", coaching_portuguese="Boa.", conversational_portuguese="Oi!",
                   score=80.0, target_text=None,
                   pronunciation={"overall_score": 80.0, "words": []})  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


class TestSchema:
    async def test_the_migrations_build_exactly_the_schema_the_code_declares(
        self, store: Store
    ) -> None:
        async with store.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        assert diff == []

    async def test_replicas_migrating_at_once_take_turns_and_both_succeed(
        self, postgres_url: str
    ) -> None:
        """Replicas share PostgreSQL only (SQLite is the one-process embedded default)."""
        first, second = Store.connect(postgres_url), Store.connect(postgres_url)
        try:
            await asyncio.gather(first.migrate(), second.migrate())
            await first.migrate()  # and again: nothing to do
            info = await second.create_session()
            assert (await first.get_session(info.session_id)).session_id == info.session_id
        finally:
            await first.close()
            await second.close()


class TestTurns:
    async def test_history_is_in_order_and_audio_is_served_by_turn(self, store: Store) -> None:
        session = (await store.create_session(telegram_user_id=7, language="pt")).session_id
        first, second = turn("one"), turn("two")
        await store.add_turn(session, first, {"coaching": WAV})
        await store.add_turn(session, second, {"coaching": WAV + b"2", "conversational": WAV})
        assert [t.user_text for t in await store.history(session)] == ["one", "two"]
        assert await store.audio(session, "coaching") == WAV + b"2"  # the newest by default
        assert await store.audio(session, "coaching", first.turn_id) == WAV
        with pytest.raises(NoAudioError):
            await store.audio(session, "conversational", first.turn_id)
        with pytest.raises(NoAudioError):
            await store.audio(session, "coaching", "not-a-uuid")

    async def test_retention_keeps_the_last_turns_and_the_last_audio(
        self, database_url: str
    ) -> None:
        store = await open_store(database_url, max_turns=5, max_audio_turns=2)
        try:
            session = (await store.create_session()).session_id
            turns = [turn(f"u{i}") for i in range(8)]
            for t in turns:
                await store.add_turn(session, t, {"coaching": WAV})
            assert [t.user_text for t in await store.history(session)] == [
                "u3", "u4", "u5", "u6", "u7"
            ]  # fmt: skip
            with_audio = [t.turn_id for t in turns if await store.audio_kinds(t.turn_id)]
            assert with_audio == [turns[6].turn_id, turns[7].turn_id]
        finally:
            await store.close()

    async def test_path_tricks_and_unknown_ids_are_unknown_sessions(self, store: Store) -> None:
        for bad in ("../x", "..", "", "a" * 500, str(uuid.uuid4())):
            with pytest.raises(UnknownSessionError):
                await store.get_session(bad)
            with pytest.raises(UnknownSessionError):
                await store.history(bad)
        with pytest.raises(UnknownSessionError):
            await store.add_turn(str(uuid.uuid4()), turn(), {})

    async def test_thirty_concurrent_turns_of_one_session_are_all_kept(self, store: Store) -> None:
        session = (await store.create_session()).session_id
        await asyncio.gather(*(store.add_turn(session, turn(str(i)), {}) for i in range(30)))
        assert sorted(int(t.user_text) for t in await store.history(session)) == list(range(30))


class TestLearners:
    async def test_the_learners_latest_session_is_found_by_telegram_id(self, store: Store) -> None:
        assert await store.learner_session(42) is None
        old = (await store.create_session(telegram_user_id=42, language="pt")).session_id
        await store.add_turn(old, turn(), {})
        new = (await store.create_session(telegram_user_id=42, language="en")).session_id
        found = await store.learner_session(42)
        assert found is not None
        assert (found.session_id, found.turns, found.language) == (new, 0, "en")
        await store.add_turn(old, turn(), {})  # the old one is used again: it is the current one
        found = await store.learner_session(42)
        assert found is not None and (found.session_id, found.turns) == (old, 2)

    async def test_erasing_a_learner_removes_everything_of_theirs_and_nothing_else(
        self, store: Store, database_url: str
    ) -> None:
        other = (await store.create_session(telegram_user_id=2)).session_id
        await store.add_turn(other, turn("someone else's words"), {"coaching": WAV})
        before = stored_rows(database_url)
        sessions = [(await store.create_session(telegram_user_id=1)).session_id for _ in range(3)]
        for i, session in enumerate(sessions):
            t = turn(f"learner one secret {i}")
            claim = await store.claim_key(session, f"tg-1-{i}", "f", "me", stale_after=10)
            assert isinstance(claim, KeyClaim)
            await store.add_turn(
                session, t, {"coaching": WAV, "conversational": WAV}, key=claim,
                response={"turn_id": t.turn_id},
            )  # fmt: skip
        erased = await store.delete_learner(1)
        assert (erased.deleted, erased.sessions, erased.turns, erased.audio) == (True, 3, 3, 6)
        assert rows_mentioning(database_url, "learner one secret", *sessions) == []
        assert stored_rows(database_url) == before, "the other learner's rows are untouched"
        assert await store.learner_session(1) is None
        again = await store.delete_learner(1)
        assert (again.deleted, again.sessions) == (False, 0)

    async def test_sqlite_leaves_no_trace_of_erased_words_in_its_files(
        self, tmp_path: Path
    ) -> None:
        """The embedded database is a file on the learner's operator's disk: erased rows are
        overwritten (secure_delete) and the WAL folded in, not left in free pages."""
        store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'phonicflow.db'}")
        try:
            session = (await store.create_session(telegram_user_id=9)).session_id
            secret = "zebra-" + uuid.uuid4().hex
            await store.add_turn(session, turn(secret), {"coaching": WAV})
            assert await asyncio.to_thread(files_contain, tmp_path, secret)
            await store.delete_learner(9)
        finally:
            await store.close()
        assert not await asyncio.to_thread(files_contain, tmp_path, secret)


class TestIdempotencyKeys:
    async def test_one_owner_then_a_replay_and_a_different_body_is_refused(
        self, store: Store
    ) -> None:
        session = (await store.create_session()).session_id
        claim = await store.claim_key(session, "k", "f1", "replica-a", stale_after=10)
        assert isinstance(claim, KeyClaim)
        assert isinstance(
            await store.claim_key(session, "k", "f1", "replica-b", stale_after=10), Busy
        )
        with pytest.raises(KeyReusedError):
            await store.claim_key(session, "k", "f2", "replica-b", stale_after=10)
        t = turn()
        await store.add_turn(session, t, {"coaching": WAV}, key=claim,
                             response={"turn_id": t.turn_id, "coaching_audio_path": "/a",
                                       "audio_available": {"coaching": True}})  # fmt: skip
        replay = await store.claim_key(session, "k", "f1", "replica-b", stale_after=10)
        assert isinstance(replay, Replay) and replay.response["turn_id"] == t.turn_id
        assert replay.response["coaching_audio_path"] == "/a"
        assert replay.response["conversational_audio_path"] is None  # never made

    async def test_a_claim_whose_owner_died_is_taken_over_and_yields_one_turn(
        self, store: Store
    ) -> None:
        session = (await store.create_session()).session_id
        dead = await store.claim_key(session, "k", "f", "dead", stale_after=10)
        assert isinstance(dead, KeyClaim)
        await asyncio.sleep(0.3)
        taken = await store.claim_key(session, "k", "f", "alive", stale_after=0.2)
        assert isinstance(taken, KeyClaim) and taken.owner == "alive"
        t = turn("the one turn")
        assert (
            await store.add_turn(session, t, {}, key=taken, response={"turn_id": t.turn_id}) is None
        )
        # The "dead" owner was only slow: its turn is not stored, it gets the first answer.
        late = await store.add_turn(session, turn("a second turn"), {}, key=dead, response={})
        assert isinstance(late, Replay) and late.turn_id == t.turn_id
        assert [x.user_text for x in await store.history(session)] == ["the one turn"]

    async def test_a_heartbeat_keeps_a_slow_claim_alive_and_release_frees_it(
        self, store: Store
    ) -> None:
        session = (await store.create_session()).session_id
        claim = await store.claim_key(session, "k", "f", "slow", stale_after=10)
        assert isinstance(claim, KeyClaim)
        for _ in range(3):
            await asyncio.sleep(0.15)
            assert await store.heartbeat(claim)
            assert isinstance(await store.claim_key(session, "k", "f", "b", stale_after=0.4), Busy)
        await store.release_key(claim)
        assert not await store.heartbeat(claim)
        assert isinstance(await store.claim_key(session, "k", "f", "b", stale_after=10), KeyClaim)


class TestRetentionSweep:
    async def test_old_audio_idle_sessions_and_abandoned_claims_are_swept(
        self, database_url: str
    ) -> None:
        store = await open_store(database_url, audio_hours=1e-5, session_days=1000)
        try:
            session = (await store.create_session(telegram_user_id=5)).session_id
            await store.add_turn(session, turn(), {"coaching": WAV})
            other = (await store.create_session()).session_id
            assert isinstance(await store.claim_key(other, "k", "f", "x", stale_after=9), KeyClaim)
            await asyncio.sleep(0.1)
            removed = await store.sweep(abandoned_claims_after=0.05)
            assert removed == {"audio": 1, "sessions": 0, "claims": 1, "reminders": 0}
            assert len(await store.history(session)) == 1, "the turn's text stays"
            store.retention = Retention(session_days=5e-7)  # 43 ms
            assert (await store.sweep())["sessions"] == 2
            with pytest.raises(UnknownSessionError):
                await store.get_session(session)
        finally:
            await store.close()


async def test_a_postgresql_restart_is_survived_without_a_new_store(
    postgres_server: PostgresServer,
) -> None:
    """A dead pooled connection is replaced (pre-ping), not handed to the next request."""
    store = await open_store(postgres_server.create_database())
    try:
        session = (await store.create_session()).session_id
        await asyncio.to_thread(postgres_server.restart)
        await store.add_turn(session, turn("after the restart"), {})
        assert [t.user_text for t in await store.history(session)] == ["after the restart"]
    finally:
        await store.close()
