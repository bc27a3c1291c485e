"""The labelled examples as a dataset: ``python -m phonicflow_backend export-labels DIR``.

Writes ``DIR/labels.jsonl`` (one JSON object per example: the word, the scorer's verdict, the
learner's correction, the drill sentence, the transcript, the per-word results, and the file
name of the note) and ``DIR/notes/<label_id>.wav``. Learners are not named in it: the export
carries no Telegram user id, only a stable pseudonym per learner (a salted hash), so examples of
one speaker can be kept together in a train/test split. ``make export-labels`` runs it against
the local database (or ``DATABASE_URL``) into ``var/labels``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

from phonicflow_backend.db.store import Store, iso


async def export_labels(store: Store, folder: Path) -> int:
    """Write every labelled example under ``folder``; the number written."""
    notes = folder / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(16)  # per export: pseudonyms cannot be joined across exports
    count = 0
    with (folder / "labels.jsonl").open("w", encoding="utf-8") as out:
        async for label in store.labels():
            note = notes / f"{label['label_id']}.wav"
            note.write_bytes(label["note_wav"])
            speaker = hashlib.sha256(f"{salt}:{label['telegram_user_id']}".encode()).hexdigest()
            record = {
                "label_id": label["label_id"],
                "speaker": speaker[:16],
                "created_at": iso(label["created_at"]),
                "word_index": label["word_index"],
                "word": label["word"],
                "verdict": label["verdict"],
                "correction": label["correction"],
                "target_text": label["target_text"],
                "transcript": label["transcript"],
                "pronunciation": label["pronunciation"],
                "note": f"notes/{note.name}",
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
