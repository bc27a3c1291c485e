"""Prometheus metrics of the bot (seed 8.2), served on /metrics by :mod:`phonicflow_bot.health`.

- ``phonicflow_bot_updates_total{type}`` — updates received: voice, audio, video_note,
  document, text, command, callback, other;
- ``phonicflow_bot_audio_processed_total{outcome}`` — ok, rejected (bad/too big/too long),
  failed (a service was down);
- ``phonicflow_bot_stage_seconds{stage}`` — latency per stage: download, convert, backend,
  reply_audio, send, and ``total`` (update received → last reply sent);
- ``phonicflow_bot_errors_total{kind}`` — backend_unavailable, backend_timeout,
  converter_unavailable, bad_audio, send_failed, unhandled;
- ``phonicflow_bot_rate_limited_total`` — messages refused by the per-learner limit;
- ``phonicflow_bot_active_sessions`` — learners active in the last 24 h;
- ``phonicflow_bot_backend_up`` — 1 when the last backend health probe passed;
- ``phonicflow_bot_reminders_total{kind,outcome}`` — reminders this process handled: daily |
  weekly, sent | blocked (403) | failed (offered again later);

the update log (:mod:`phonicflow_bot.update_log`; the gauges describe the whole log, so every
process reports the same values):

- ``phonicflow_bot_intake_updates_total{source,outcome}`` — updates taken in by this process:
  source polling | webhook, outcome appended | duplicate (already in the log) | refused
  (webhook: bad secret or body);
- ``phonicflow_bot_stream_backlog`` — updates in the log not yet answered;
- ``phonicflow_bot_stream_pending`` — of those, handed to a worker;
- ``phonicflow_bot_stream_lag`` — of those, not yet handed to any worker (consumer lag);
- ``phonicflow_bot_stream_oldest_seconds`` — age of the oldest unanswered update;
- ``phonicflow_bot_stream_redeliveries_total`` — updates this worker took over from a silent one;
- ``phonicflow_bot_stream_retries_total`` — updates handled again after a Redis/network fault;
- ``phonicflow_bot_stream_dead_letters_total`` — updates given up on (kept aside);
- ``phonicflow_bot_replies_uncertain_total`` — replies sent again because their worker died
  while they were on their way (Telegram may have shown them: a possible repeat).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

#: Latency buckets in seconds: sub-10 ms bot overhead up to the seed's 5 s target and beyond.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

UPDATES = Counter(
    "phonicflow_bot_updates", "Telegram updates received", ["type"], registry=REGISTRY
)
AUDIO_PROCESSED = Counter(
    "phonicflow_bot_audio_processed", "Audio messages handled", ["outcome"], registry=REGISTRY
)
STAGE_SECONDS = Histogram(
    "phonicflow_bot_stage_seconds",
    "Time per stage of handling an update",
    ["stage"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
ERRORS = Counter("phonicflow_bot_errors", "Errors by kind", ["kind"], registry=REGISTRY)
RATE_LIMITED = Counter(
    "phonicflow_bot_rate_limited", "Messages refused by the per-learner limit", registry=REGISTRY
)
ACTIVE_SESSIONS = Gauge(
    "phonicflow_bot_active_sessions", "Learners active in the last 24 h", registry=REGISTRY
)
BACKEND_UP = Gauge(
    "phonicflow_bot_backend_up", "1 when the backend's /healthz answered 200", registry=REGISTRY
)

REMINDERS = Counter(
    "phonicflow_bot_reminders",
    "Reminders sent, or not, by this process",
    ["kind", "outcome"],
    registry=REGISTRY,
)
INTAKE = Counter(
    "phonicflow_bot_intake_updates",
    "Updates taken in",
    ["source", "outcome"],
    registry=REGISTRY,
)
STREAM_BACKLOG = Gauge(
    "phonicflow_bot_stream_backlog", "Updates in the log not yet answered", registry=REGISTRY
)
STREAM_PENDING = Gauge(
    "phonicflow_bot_stream_pending",
    "Updates handed to a worker, not yet answered",
    registry=REGISTRY,
)
STREAM_LAG = Gauge(
    "phonicflow_bot_stream_lag", "Updates not yet handed to any worker", registry=REGISTRY
)
STREAM_OLDEST = Gauge(
    "phonicflow_bot_stream_oldest_seconds", "Age of the oldest unanswered update", registry=REGISTRY
)
STREAM_REDELIVERIES = Counter(
    "phonicflow_bot_stream_redeliveries",
    "Updates taken over from a worker that went silent",
    registry=REGISTRY,
)
STREAM_RETRIES = Counter(
    "phonicflow_bot_stream_retries",
    "Updates handled again after a Redis or network fault",
    registry=REGISTRY,
)
STREAM_DEAD_LETTERS = Counter(
    "phonicflow_bot_stream_dead_letters", "Updates given up on", registry=REGISTRY
)
REPLIES_UNCERTAIN = Counter(
    "phonicflow_bot_replies_uncertain",
    "Replies sent again because their worker died while they were on their way",
    registry=REGISTRY,
)
