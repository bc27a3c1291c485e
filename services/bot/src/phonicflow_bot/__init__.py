"""PhonicFlow's Telegram bot: python-telegram-bot 22, long polling.

Start it with ``python -m phonicflow_bot`` (settings: :mod:`phonicflow_bot.config`).

Follow a voice note through the package:

- :mod:`phonicflow_bot.bot` — the Application, update processing, rate-limit gate, errors;
- :mod:`phonicflow_bot.handlers.audio_handler` — voice/audio/video note in, feedback out;
- :mod:`phonicflow_bot.utils.audio_converter` — gRPC to the converter (to WAV, to voice);
- :mod:`phonicflow_bot.utils.api_client` — HTTP to the backend (docs/backend-api.md);
- :mod:`phonicflow_bot.utils.session_manager` — sessions in Redis or memory;
- :mod:`phonicflow_bot.handlers.replies` — text reply, then voice replies;
- :mod:`phonicflow_bot.formatting` / :mod:`phonicflow_bot.i18n` — what the learner reads;
- :mod:`phonicflow_bot.health` / :mod:`phonicflow_bot.metrics` — probes and Prometheus.
"""

__version__ = "0.1.0"
