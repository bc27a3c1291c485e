"""Prometheus metrics of the backend (seed 8.2: throughput, latency, errors, sessions).

One :class:`Metrics` per app, on its own registry, served as text at ``GET /metrics``.

- ``phonicflow_backend_http_requests_total{method,route,status}``
- ``phonicflow_backend_http_request_seconds{method,route}`` (histogram)
- ``phonicflow_backend_stage_seconds{stage}`` (histogram: stt, scoring, coaching, conversation,
  translation, tts, total)
- ``phonicflow_backend_stage_failures_total{stage}`` (a stage degraded)
- ``phonicflow_backend_turns_total{kind}`` (audio, text)
- ``phonicflow_backend_idempotent_requests_total{outcome}``: ``/process`` calls that carried an
  ``Idempotency-Key``: ``processed`` (a new turn), ``replayed`` (a repeat answered from
  storage), ``conflict`` (the key with a different body)
- ``phonicflow_backend_pronunciation_score`` (histogram, 0–100)
- ``phonicflow_backend_drill_notes_total{match}``: drill notes by ``matched`` or
  ``different_sentence`` (not the drill sentence: not scored)
- ``phonicflow_backend_sessions_created_total``, ``phonicflow_backend_sessions_deleted_total``
- ``phonicflow_backend_sessions`` (gauge: sessions on disk, counted when scraped)
- ``phonicflow_backend_db_seconds{statement}`` (histogram: time in the database per SQL
  statement, by verb: select, insert, update, delete, other)
- ``phonicflow_bot_events_total{event}``: what the bot reports through ``POST /bot/metrics``
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60)
_DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_SCORE_BUCKETS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("phonicflow_backend_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)  # fmt: skip
        self.request_seconds = Histogram("phonicflow_backend_http_request_seconds",
                                         "HTTP request latency", ["method", "route"],
                                         buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.stage_seconds = Histogram("phonicflow_backend_stage_seconds",
                                       "Latency of one pipeline stage", ["stage"],
                                       buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.stage_failures = Counter("phonicflow_backend_stage_failures",
                                      "Pipeline stages that failed and were skipped", ["stage"],
                                      registry=r)  # fmt: skip
        self.turns = Counter("phonicflow_backend_turns", "Turns processed", ["kind"], registry=r)
        self.idempotent_requests = Counter("phonicflow_backend_idempotent_requests",
                                           "Requests that carried an Idempotency-Key",
                                           ["outcome"], registry=r)  # fmt: skip
        self.score = Histogram("phonicflow_backend_pronunciation_score",
                               "Overall pronunciation score of scored turns",
                               buckets=_SCORE_BUCKETS, registry=r)  # fmt: skip
        self.drill_match = Counter("phonicflow_backend_drill_notes",
                                   "Drill notes, by whether they were the drill sentence",
                                   ["match"], registry=r)  # fmt: skip
        self.sessions_created = Counter("phonicflow_backend_sessions_created",
                                        "Sessions created", registry=r)  # fmt: skip
        self.sessions_deleted = Counter("phonicflow_backend_sessions_deleted",
                                        "Sessions deleted", registry=r)  # fmt: skip
        self.sessions = Gauge("phonicflow_backend_sessions", "Sessions stored right now",
                              registry=r)  # fmt: skip
        self.db_seconds = Histogram("phonicflow_backend_db_seconds",
                                    "Time in the database per SQL statement", ["statement"],
                                    buckets=_DB_BUCKETS, registry=r)  # fmt: skip
        self.bot_events = Counter("phonicflow_bot_events", "Events reported by the bot",
                                  ["event"], registry=r)  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def observe_statement(self, statement: str, seconds: float) -> None:
        verb = statement.lstrip().split(" ", 1)[0].lower()
        if verb not in ("select", "insert", "update", "delete"):
            verb = "other"
        self.db_seconds.labels(verb).observe(seconds)
