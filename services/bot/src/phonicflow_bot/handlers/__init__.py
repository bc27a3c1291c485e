"""Telegram handlers: the gate (rate limit, errors), audio, commands and text, buttons, and
the one module they share (:mod:`~phonicflow_bot.handlers.common`)."""
