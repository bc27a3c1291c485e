"""The one place that names what the bot writes to Redis.

Every key starts with ``phonicflow:`` and ends with the learner's Telegram user id, so that
erasing a learner (/delete) is a fixed list of keys:

- ``phonicflow:session:{user_id}``   — the session, a JSON string (see ``Session``); expires
  :data:`phonicflow_bot.utils.session_manager.EXPIRED_SESSION_RETENTION_SECONDS` after the
  session's own timeout, so a returning learner can be told "your session expired";
- ``phonicflow:ratelimit:{user_id}`` — message count in the current one-minute window (INCR + EXPIRE);
- ``phonicflow:ratelimit-notice:{user_id}`` — set once per window when the learner was told to slow down;
- ``phonicflow:active`` — sorted set: user id → last activity (epoch seconds), for the
  "active sessions in the last 24 h" gauge.
"""

from __future__ import annotations

PREFIX = "phonicflow"
ACTIVE = f"{PREFIX}:active"


def session(user_id: int) -> str:
    return f"{PREFIX}:session:{user_id}"


def rate_limit(user_id: int) -> str:
    return f"{PREFIX}:ratelimit:{user_id}"


def rate_limit_notice(user_id: int) -> str:
    return f"{PREFIX}:ratelimit-notice:{user_id}"


def all_for_user(user_id: int) -> list[str]:
    """Every per-learner key (the sorted-set member is removed separately)."""
    return [session(user_id), rate_limit(user_id), rate_limit_notice(user_id)]
