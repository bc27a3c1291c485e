"""The bot's one Redis connection pool, shared by the update log, sessions and rate limits.

Usage::

    redis = connect(settings.redis_url)       # nothing is sent until the first command
    await redis.aclose()

A Redis restart must not show a learner anything, so every command retries connection errors
and timeouts with jittered exponential backoff (redis-py's own ``Retry``) for 10-15 s, long
enough for Redis to restart; a pod whose network is programmed late
connects within the same window. What outlasts it is the callers' business: the poller and the
workers keep waiting (nothing is lost), a handler's update is handled again later.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

#: Backoff before each retry: uniform in [0, min(cap, base·2ⁿ)]; 16 retries ≈ 12 s on average.
BACKOFF_BASE = 0.1
BACKOFF_CAP = 2.0
RETRIES = 16
#: Seconds to open a connection; an unreachable Redis fails fast and is retried.
CONNECT_TIMEOUT = 2.0


def connect(url: str) -> Redis:
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_keepalive=True,
        health_check_interval=30,
        retry=Retry(ExponentialWithJitterBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), RETRIES),
        retry_on_error=[ConnectionError, TimeoutError],
    )


def safe_url(url: str) -> str:
    """REDIS_URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
