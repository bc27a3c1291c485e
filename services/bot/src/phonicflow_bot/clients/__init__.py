"""One small client per outside system the bot talks to.

- :mod:`~phonicflow_bot.clients.converter` — the audio converter (gRPC);
- :mod:`~phonicflow_bot.clients.backend` — the backend (HTTP, docs/backend-api.md);
- :mod:`~phonicflow_bot.clients.sessions` — learner sessions in Redis or memory;
- :mod:`~phonicflow_bot.clients.telegram` — Telegram's HTTP under python-telegram-bot (aiohttp);
- :mod:`~phonicflow_bot.clients.redis_connection` — the one Redis pool, retrying through restarts;
- :mod:`~phonicflow_bot.clients.forms` — request bodies both HTTP clients send.
"""
