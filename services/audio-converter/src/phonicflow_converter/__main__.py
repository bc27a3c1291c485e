"""Entry point: ``python -m phonicflow_converter`` (settings from the environment, see config)."""

from __future__ import annotations

import asyncio

from phonicflow_common.logging import configure_logging
from phonicflow_common.settings import load_settings
from phonicflow_common.telemetry import setup_tracing, shutdown_tracing
from phonicflow_converter.config import ConverterSettings
from phonicflow_converter.server import serve


def main() -> None:
    settings = load_settings(ConverterSettings)
    configure_logging("audio-converter", level=settings.log_level)
    setup_tracing("phonicflow-audio-converter")
    try:
        asyncio.run(serve(settings))
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
