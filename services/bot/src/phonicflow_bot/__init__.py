"""PhonicFlow's Telegram bot: python-telegram-bot 22, a durable update log, workers.

Start it with ``python -m phonicflow_bot [--role all|poller|worker|webhook]`` (settings:
:mod:`phonicflow_bot.config`; the lifecycle of each role: :mod:`phonicflow_bot.bot`).

Follow an update through the package:

- :mod:`phonicflow_bot.intake` — the poller (:mod:`~phonicflow_bot.intake.poller`) or the
  webhook receiver (:mod:`~phonicflow_bot.intake.webhook`) appends it to the log first;
- :mod:`phonicflow_bot.update_log` — Redis stream (or memory): deduplicated, one chat in order;
- :mod:`phonicflow_bot.worker` — claims it, runs the handlers, acknowledges it;
- :mod:`phonicflow_bot.journal` — what handling it already did, so a retry never repeats a reply;
- :mod:`phonicflow_bot.application` — the PTB Application and its handlers;
- :mod:`phonicflow_bot.handlers` — gate (rate limit, errors), audio, commands and text, buttons,
  and what they share (:mod:`~phonicflow_bot.handlers.common`: replies, keyboards, failures);
- :mod:`phonicflow_bot.clients` — converter (gRPC), backend (HTTP), sessions, Telegram's HTTP;
- :mod:`phonicflow_bot.formatting` / :mod:`phonicflow_bot.i18n` — what the learner reads;
- :mod:`phonicflow_bot.health` / :mod:`phonicflow_bot.metrics` — probes and Prometheus.
"""

__version__ = "0.1.0"
