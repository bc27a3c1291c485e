"""``python -m phonicflow_backend [serve|migrate|export-labels DIR]``: serve the API (default),
apply the database migrations once and exit (the chart's migration Job), or write the labelled
examples as a dataset (:mod:`phonicflow_backend.labels`).

A bad setting exits with status 2 and a message naming the variable. SIGTERM/SIGINT stop
accepting connections, let in-flight requests finish, then flush traces.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from types import FrameType

from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from phonicflow_backend.app import build_store, create_app
from phonicflow_backend.config import BackendSettings
from phonicflow_backend.labels import export_labels
from phonicflow_backend.serving import serve
from phonicflow_common.logging import configure_logging, register_secret
from phonicflow_common.settings import load_settings
from phonicflow_common.telemetry import setup_tracing, shutdown_tracing

SERVICE_NAME = "phonicflow-backend"


def _after_graceful_shutdown(signum: int, frame: FrameType | None) -> None:
    """Called only once uvicorn has finished: let main() return normally (exit status 0)."""


async def _migrate(settings: BackendSettings) -> None:
    store = build_store(settings)
    try:
        await store.migrate()
    finally:
        await store.close()


async def _export_labels(settings: BackendSettings, folder: Path) -> None:
    store = build_store(settings)
    try:
        await store.migrate()
        count = await export_labels(store, folder)
    finally:
        await store.close()
    print(f"{count} labelled examples written to {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m phonicflow_backend")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=("serve", "migrate", "export-labels")
    )
    parser.add_argument("folder", nargs="?", type=Path, default=Path("var/labels"))
    args = parser.parse_args()
    command = args.command
    settings = load_settings(BackendSettings)
    configure_logging("backend", settings.log_level, settings.backend_log_file)
    for secret in (settings.bot_private_key, settings.database_url):
        if secret is not None:
            register_secret(secret.get_secret_value())
    if command == "migrate":
        asyncio.run(_migrate(settings))
        return
    if command == "export-labels":
        asyncio.run(_export_labels(settings, args.folder))
        return
    setup_tracing(SERVICE_NAME)
    app = create_app(settings)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    # uvicorn re-raises SIGTERM/SIGINT to the previous handler after its graceful shutdown; with
    # the default one the process would die right there, before the traces are flushed.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _after_graceful_shutdown)
    try:
        serve(app, settings)
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
