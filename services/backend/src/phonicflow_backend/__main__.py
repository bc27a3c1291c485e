"""``python -m phonicflow_backend``: load settings, set up logging and tracing, serve with uvicorn.

A bad setting exits with status 2 and a message naming the variable. SIGTERM/SIGINT stop
accepting connections, let in-flight requests finish, then flush traces.
"""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from phonicflow_backend.app import create_app
from phonicflow_backend.config import BackendSettings
from phonicflow_common.logging import configure_logging, register_secret
from phonicflow_common.settings import load_settings
from phonicflow_common.telemetry import setup_tracing, shutdown_tracing

SERVICE_NAME = "phonicflow-backend"
#: Seconds in-flight requests get to finish after SIGTERM (Kubernetes allows 30 by default).
GRACEFUL_SHUTDOWN_S = 20


def _after_graceful_shutdown(signum: int, frame: FrameType | None) -> None:
    """Called only once uvicorn has finished: let main() return normally (exit status 0)."""


def main() -> None:
    settings = load_settings(BackendSettings)
    configure_logging("backend", settings.log_level, settings.backend_log_file)
    if settings.bot_private_key is not None:
        register_secret(settings.bot_private_key.get_secret_value())
    setup_tracing(SERVICE_NAME)
    app = create_app(settings)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    # uvicorn re-raises SIGTERM/SIGINT to the previous handler after its graceful shutdown; with
    # the default one the process would die right there, before the traces are flushed.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _after_graceful_shutdown)
    try:
        uvicorn.run(
            app,
            host=settings.backend_host,
            port=settings.backend_port,
            log_config=None,  # keep our JSON logging
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
