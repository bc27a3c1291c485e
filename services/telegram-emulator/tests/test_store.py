"""The emulator's event feed on its own: what a long poll with a cursor gets back."""

from __future__ import annotations

from phonicflow_emulator.store import MAX_REMEMBERED_EVENTS, Store


def test_events_after_a_cursor_are_the_newer_ones_oldest_first() -> None:
    store = Store(1, "Bot", "bot")
    seqs = [store.add_event("message", chat_id=n % 3) for n in range(10)]
    assert [e["seq"] for e in store.events_after(seqs[6])] == seqs[7:]
    assert store.events_after(seqs[-1]) == []
    assert [e["seq"] for e in store.events_after(0)] == seqs


def test_a_cursor_older_than_what_is_remembered_gets_everything_remembered() -> None:
    store = Store(1, "Bot", "bot")
    for n in range(MAX_REMEMBERED_EVENTS + 5):
        store.add_event("message", chat_id=n)
    newer = store.events_after(3)
    assert len(newer) == MAX_REMEMBERED_EVENTS
    assert newer[0]["seq"] == 6
    assert newer[-1]["seq"] == MAX_REMEMBERED_EVENTS + 5
