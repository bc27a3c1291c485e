"""``Idempotency-Key`` for ``POST /process``: a retried request never becomes a second turn.

The header follows the IETF httpapi draft "The Idempotency-Key HTTP Header Field". Within one
session, the first request with a key is processed and its answer stored with the turn
(:meth:`Storage.add_turn`); a repeat gets that stored answer back (same ``turn_id``, same body,
header ``Idempotent-Replayed: true``). A repeat that arrives while the first is still being
processed waits for it, in this process (:class:`InFlight`). A first request that failed
leaves nothing behind, so its repeat is processed normally. The same key with a different
request body is a client error (:class:`KeyReusedError`, 422).

Usage (what the ``/process`` route does)::

    key = parse_idempotency_key(header_value)          # ApiError 400 when malformed
    fingerprint = request_fingerprint(wav, text, target_text)
    stored = await in_flight.claim(storage, session, key, fingerprint)   # may wait
    if stored is not None:
        return replay(stored)                          # KeyReusedError if the body differs
    try:
        ...process, then storage.add_turn(..., key=KeyedOutcome(key, fingerprint, body))
    finally:
        in_flight.release(session, key)

Keys: 1 to :data:`MAX_KEY_LENGTH` printable ASCII characters; the draft's Structured-Field
string form (``"abc"``, quotes included) is unwrapped to ``abc``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field

from phonicflow_backend.errors import ApiError
from phonicflow_backend.storage import Storage, StoredKey

#: Header names, as the draft spells them.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: Longest key accepted; a UUID is 36, the bot's ``tg-<chat>-<message>`` about 30.
MAX_KEY_LENGTH = 255
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")


class KeyReusedError(Exception):
    """The key was already used in this session for a request with a different body."""


def parse_idempotency_key(value: str | None) -> str | None:
    """The key from the header's value, None when absent; ``ApiError(400)`` when malformed."""
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]  # Structured-Field string: "abc"
    if not key or len(key) > MAX_KEY_LENGTH or not _PRINTABLE_ASCII.fullmatch(key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"the {IDEMPOTENCY_KEY_HEADER} header must be 1 to {MAX_KEY_LENGTH} printable "
            "ASCII characters",
        )
    return key


def request_fingerprint(wav: bytes | None, text: str | None, target_text: str | None) -> str:
    """What makes two requests "the same": the audio's bytes and the (cleaned) text fields."""
    parts = {
        "file": hashlib.sha256(wav).hexdigest() if wav is not None else None,
        "text": text,
        "target_text": target_text,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass
class _Claim:
    fingerprint: str
    done: asyncio.Event = field(default_factory=asyncio.Event)


class InFlight:
    """The keys this process is working on right now, one owner per (session, key).

    In-process only: two backend replicas would each process a concurrent repeat (see
    docs/backend-api.md); once either has stored its turn, both replay it.
    """

    def __init__(self) -> None:
        self._claims: dict[tuple[str, str], _Claim] = {}

    async def claim(
        self, storage: Storage, session_id: str, key: str, fingerprint: str
    ) -> StoredKey | None:
        """The stored outcome to replay, or None: the caller now owns the key and must call
        :meth:`release` when done, whether it stored a turn or failed.

        Raises :class:`KeyReusedError` when the key's request had a different body.
        """
        while True:
            current = self._claims.get((session_id, key))
            if current is None:
                break
            if current.fingerprint != fingerprint:
                raise KeyReusedError(key)
            # Wait for the owner, then look again: it stored a turn (replay it) or failed
            # (then one of the waiters becomes the owner and the others wait for it).
            await current.done.wait()
        # Claimed before the lookup (no await in between), so a concurrent repeat waits.
        self._claims[(session_id, key)] = _Claim(fingerprint)
        try:
            stored = await asyncio.to_thread(storage.find_key, session_id, key)
        except BaseException:
            self.release(session_id, key)
            raise
        if stored is None:
            return None
        self.release(session_id, key)
        if stored.fingerprint != fingerprint:
            raise KeyReusedError(key)
        return stored

    def release(self, session_id: str, key: str) -> None:
        claim = self._claims.pop((session_id, key), None)
        if claim is not None:
            claim.done.set()

    def __len__(self) -> int:
        return len(self._claims)


__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "MAX_KEY_LENGTH",
    "REPLAYED_HEADER",
    "InFlight",
    "KeyReusedError",
    "parse_idempotency_key",
    "request_fingerprint",
]
