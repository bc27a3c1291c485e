"""Sessions, turns and audio on disk under ``STORAGE_DIR``; survives restarts.

Layout (one directory per session, everything written atomically: temp file + ``os.replace``)::

    STORAGE_DIR/sessions/<session uuid>/session.json
    STORAGE_DIR/sessions/<session uuid>/turns/<ns timestamp>-<turn uuid>.json   (append-only)
    STORAGE_DIR/sessions/<session uuid>/audio/<turn uuid>-coaching.wav
    STORAGE_DIR/sessions/<session uuid>/audio/<turn uuid>-conversational.wav
    STORAGE_DIR/sessions/<session uuid>/keys/<sha256 of the Idempotency-Key>.json

Each turn is its own file, so concurrent turns of one session never overwrite each other; a
per-session lock additionally serialises retention pruning. Retention: a session keeps its last
``max_turns`` turns and the audio of its last ``max_audio_turns`` turns (settings
``SESSION_MAX_TURNS`` and ``SESSION_MAX_AUDIO_TURNS``). Session ids must be UUIDs, which also
keeps every path inside ``STORAGE_DIR``.

A turn sent with an ``Idempotency-Key`` (see :mod:`phonicflow_backend.idempotency`) also writes
a key file: the key, the request's fingerprint, the turn it made and the answer that was sent.
It is written after the audio and before the turn file, so a crash in between leaves a key
that names no turn, which :meth:`Storage.find_key` treats as absent. A key lives as long as its
turn: retention and ``delete_session`` remove both.

Usage::

    store = Storage(Path("feedback_storage"), max_turns=200, max_audio_turns=20)
    session = store.create_session(telegram_user_id=42, language="pt")
    async with store.session_lock(session.session_id):
        store.add_turn(session.session_id, turn, audio={"coaching": wav_bytes})
    store.history(session.session_id)
    store.find_key(session.session_id, "tg-42-1001")      # StoredKey | None
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

AudioType = Literal["coaching", "conversational"]
AUDIO_TYPES: tuple[AudioType, ...] = ("coaching", "conversational")


class UnknownSessionError(KeyError):
    """No session with that id (never created, deleted, or not a UUID)."""


class NoAudioError(KeyError):
    """The session has no audio of that type (yet, or any more)."""


@dataclass
class SessionInfo:
    session_id: str
    created_at: str
    telegram_user_id: int | None = None
    language: str | None = None


@dataclass
class TurnRecord:
    """One exchange, as the history endpoint shows it (seed field names first)."""

    turn_id: str
    timestamp: str
    user: str
    conversational: str
    coaching: str
    coaching_portuguese: str | None = None
    conversational_portuguese: str | None = None
    score: float | None = None
    target_text: str | None = None
    audio: dict[str, bool] = field(default_factory=dict)
    #: Names the turn's key file (``keys/<hash>.json``) so retention can remove it too.
    idempotency_key_sha256: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TurnRecord:
        """Ignores fields it does not know, so a newer backend's turns still read."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class KeyedOutcome:
    """What :meth:`Storage.add_turn` keeps for a turn sent with an Idempotency-Key."""

    key: str
    fingerprint: str
    response: dict[str, Any]


@dataclass(frozen=True)
class StoredKey:
    """What a turn sent with an Idempotency-Key left behind: enough to answer a repeat."""

    key: str
    fingerprint: str
    turn_id: str
    turn_file: str
    response: dict[str, Any]


def key_sha256(key: str) -> str:
    """The key file's name: keys may hold any printable character, "/" included."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_session_id(value: str) -> str:
    """The canonical form of a UUID session id; UnknownSessionError for anything else."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise UnknownSessionError(value) from None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Storage:
    def __init__(self, root: Path, *, max_turns: int, max_audio_turns: int) -> None:
        self.root = root
        self.sessions_dir = root / "sessions"
        self.max_turns = max_turns
        self.max_audio_turns = max_audio_turns
        self._locks: dict[str, asyncio.Lock] = {}

    def ensure_writable(self) -> None:
        """Create the storage folder and prove a file can be written there (readiness)."""
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.root / ".probe", b"ok")

    def session_lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    def _dir(self, session_id: str) -> Path:
        return self.sessions_dir / parse_session_id(session_id)

    def create_session(
        self, *, telegram_user_id: int | None = None, language: str | None = None
    ) -> SessionInfo:
        info = SessionInfo(str(uuid.uuid4()), now_iso(), telegram_user_id, language)
        path = self.sessions_dir / info.session_id / "session.json"
        _write_atomic(path, json.dumps(asdict(info)).encode())
        return info

    def get_session(self, session_id: str) -> SessionInfo:
        path = self._dir(session_id) / "session.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UnknownSessionError(session_id) from None
        return SessionInfo(**data)

    def add_turn(
        self,
        session_id: str,
        turn: TurnRecord,
        audio: Mapping[AudioType, bytes],
        *,
        key: KeyedOutcome | None = None,
    ) -> None:
        """Store the turn's audio, its key file when ``key`` is given, then the turn itself,
        then apply retention."""
        base = self._dir(session_id)
        if not (base / "session.json").is_file():
            raise UnknownSessionError(session_id)
        for kind, wav in audio.items():
            _write_atomic(base / "audio" / f"{turn.turn_id}-{kind}.wav", wav)
        turn.audio = {kind: kind in audio for kind in AUDIO_TYPES}
        name = f"{time.time_ns():020d}-{turn.turn_id}.json"
        if key is not None:
            stored = StoredKey(key.key, key.fingerprint, turn.turn_id, name, key.response)
            turn.idempotency_key_sha256 = key_sha256(key.key)
            _write_atomic(
                base / "keys" / f"{turn.idempotency_key_sha256}.json",
                json.dumps(asdict(stored), ensure_ascii=False).encode(),
            )
        _write_atomic(base / "turns" / name, json.dumps(asdict(turn), ensure_ascii=False).encode())
        self._prune(base)

    def find_key(self, session_id: str, key: str) -> StoredKey | None:
        """The stored outcome of ``key`` in this session, or None (never used, its turn was
        pruned, or a crash left it half-written; such leftovers are removed here)."""
        path = self._dir(session_id) / "keys" / f"{key_sha256(key)}.json"
        try:
            stored = StoredKey(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            path.unlink(missing_ok=True)  # unreadable: as if the turn had never been stored
            return None
        if stored.key != key or not (path.parent.parent / "turns" / stored.turn_file).is_file():
            path.unlink(missing_ok=True)
            return None
        return stored

    def _turn_files(self, base: Path) -> list[Path]:
        turns = base / "turns"
        if not turns.is_dir():
            return []
        return sorted(
            p for p in turns.iterdir() if p.suffix == ".json" and not p.name.startswith(".")
        )

    def _prune(self, base: Path) -> None:
        files = self._turn_files(base)
        for old in files[: max(0, len(files) - self.max_turns)]:
            turn_id = old.stem.split("-", 1)[1]
            self._drop_key_of(base, old)
            old.unlink(missing_ok=True)
            for kind in AUDIO_TYPES:
                (base / "audio" / f"{turn_id}-{kind}.wav").unlink(missing_ok=True)
        kept = files[max(0, len(files) - self.max_turns) :]
        for old in kept[: max(0, len(kept) - self.max_audio_turns)]:
            turn_id = old.stem.split("-", 1)[1]
            for kind in AUDIO_TYPES:
                (base / "audio" / f"{turn_id}-{kind}.wav").unlink(missing_ok=True)

    def _drop_key_of(self, base: Path, turn_file: Path) -> None:
        try:
            digest = json.loads(turn_file.read_text(encoding="utf-8")).get("idempotency_key_sha256")
        except (OSError, ValueError, AttributeError):
            return  # find_key notices a key whose turn is gone and drops it then
        if isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest):
            (base / "keys" / f"{digest}.json").unlink(missing_ok=True)

    def history(self, session_id: str) -> list[TurnRecord]:
        self.get_session(session_id)
        turns: list[TurnRecord] = []
        for path in self._turn_files(self._dir(session_id)):
            try:
                turns.append(TurnRecord.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (FileNotFoundError, json.JSONDecodeError, TypeError, AttributeError):
                continue  # pruned or deleted while we listed: not part of the history any more
        return turns

    def audio_path(self, session_id: str, kind: AudioType, turn_id: str | None = None) -> Path:
        """The WAV of ``turn_id`` (default: the latest turn that has audio of that kind)."""
        base = self._dir(session_id)
        self.get_session(session_id)
        if turn_id is not None:
            try:
                turn_id = str(uuid.UUID(turn_id))
            except ValueError:
                raise NoAudioError(turn_id) from None
            path = base / "audio" / f"{turn_id}-{kind}.wav"
            if path.is_file():
                return path
            raise NoAudioError(turn_id)
        for turn_file in reversed(self._turn_files(base)):
            path = base / "audio" / f"{turn_file.stem.split('-', 1)[1]}-{kind}.wav"
            if path.is_file():
                return path
        raise NoAudioError(session_id)

    def delete_session(self, session_id: str) -> None:
        base = self._dir(session_id)
        if not (base / "session.json").is_file():
            raise UnknownSessionError(session_id)
        # Rename first so the session vanishes at once for readers, then remove the files.
        tomb = self.sessions_dir / f".deleted-{base.name}-{uuid.uuid4().hex}"
        try:
            os.replace(base, tomb)
        except FileNotFoundError:
            raise UnknownSessionError(session_id) from None
        shutil.rmtree(tomb, ignore_errors=True)
        self._locks.pop(base.name, None)

    def count_sessions(self) -> int:
        if not self.sessions_dir.is_dir():
            return 0
        return sum(1 for p in self.sessions_dir.iterdir() if not p.name.startswith("."))
