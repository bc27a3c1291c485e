"""The one place that names what the bot writes to Redis. Every key starts with ``phonicflow:``.

Per learner (erasing a learner, /delete, removes these; see :func:`all_for_user`):

- ``phonicflow:session:{user_id}``   — the session, a JSON string (see ``Session``); expires
  :data:`phonicflow_bot.clients.sessions.EXPIRED_SESSION_RETENTION_SECONDS` after the
  session's own timeout, so a returning learner can be told "your session expired";
- ``phonicflow:ratelimit:{user_id}`` — updates counted in the current one-minute window;
- ``phonicflow:ratelimit-notice:{user_id}`` — set once per window when the learner was told to
  slow down;
- ``phonicflow:active`` — sorted set: user id → last activity (epoch seconds), for the
  "active sessions in the last 24 h" gauge (the member is removed on /delete).

The update log (:mod:`phonicflow_bot.update_log`), short-lived by design:

- ``phonicflow:updates`` — stream of updates not yet acknowledged (fields ``id`` = update_id,
  ``chat`` = the chat it belongs to, ``update`` = the update's JSON); consumer group :data:`WORKERS`; an entry is deleted
  when it is acknowledged, so the stream holds only the backlog;
- ``phonicflow:updates:dead`` — stream of updates given up on after too many deliveries
  (capped to the last :data:`DEAD_LETTERS_KEPT`);
- ``phonicflow:seen:{update_id}`` — "already appended", so a redelivered update (a poller that
  died before confirming its offset, Telegram retrying a webhook) is one entry; 24 h;
- ``phonicflow:chat:{chat_id}:queue`` — list of the chat's entry ids in arrival order: only the
  head may be handled, which keeps one learner's updates in order across workers;
- ``phonicflow:chat:{chat_id}:lease`` — the worker handling the chat's head right now, with a
  time to live its heartbeat renews;
- ``phonicflow:journal:{update_id}`` — hash of what handling the update already did (replies
  sent, memoised steps), so handling it again resumes instead of repeating; 24 h.

The reminder sender (:mod:`phonicflow_bot.reminders`):

- ``phonicflow:reminder-pace`` — the Redis-clock time (microseconds) of the next free send
  slot: every sender takes the next slot, so sends are spread evenly at the bot-wide rate;
- ``phonicflow:reminder-sent:{user_id}:{local_date}:{kind}`` — the reminder went out (so one
  offered again after its sender died before reporting is not sent twice); 2 days.

Button presses (:mod:`phonicflow_bot.rate_limit`), a few seconds each:

- ``phonicflow:press:{chat_id}:{message_id}:{data}`` — a button's press being handled or just
  handled, so a burst of presses on one button does its work once (``SET NX EX``).

These keys span hash slots: the bot needs one Redis (or a primary), not Redis Cluster.
"""

from __future__ import annotations

PREFIX = "phonicflow"
ACTIVE = f"{PREFIX}:active"
UPDATES = f"{PREFIX}:updates"
DEAD_LETTERS = f"{PREFIX}:updates:dead"
#: The consumer group every worker reads the update stream through.
WORKERS = "workers"
DEAD_LETTERS_KEPT = 1000
REMINDER_PACE = f"{PREFIX}:reminder-pace"


def session(user_id: int) -> str:
    return f"{PREFIX}:session:{user_id}"


def rate_limit(user_id: int) -> str:
    return f"{PREFIX}:ratelimit:{user_id}"


def rate_limit_notice(user_id: int) -> str:
    return f"{PREFIX}:ratelimit-notice:{user_id}"


def all_for_user(user_id: int) -> list[str]:
    """Every per-learner key (the sorted-set member is removed separately)."""
    return [session(user_id), rate_limit(user_id), rate_limit_notice(user_id)]


def reminder_sent(user_id: int, local_date: str, kind: str) -> str:
    return f"{PREFIX}:reminder-sent:{user_id}:{local_date}:{kind}"


def seen(update_id: int) -> str:
    return f"{PREFIX}:seen:{update_id}"


def chat_queue(chat: int | str) -> str:
    return f"{PREFIX}:chat:{chat}:queue"


def chat_lease(chat: int | str) -> str:
    return f"{PREFIX}:chat:{chat}:lease"


def journal(update_id: int) -> str:
    return f"{PREFIX}:journal:{update_id}"


def press(chat: int, message: int, data: str) -> str:
    return f"{PREFIX}:press:{chat}:{message}:{data}"
