"""Telegram's webhook into the update log: a small aiohttp.web receiver, as many as you like.

Usage::

    receiver = WebhookReceiver(update_log, settings)
    await receiver.start()        # listens on BOT_WEBHOOK_HOST:BOT_WEBHOOK_PORT
    await register(bot, settings) # setWebhook(BOT_WEBHOOK_URL, secret_token=…); each replica may
    ...
    await receiver.stop()

Telegram POSTs each update as JSON to ``BOT_WEBHOOK_URL`` with the header
``X-Telegram-Bot-Api-Secret-Token`` set to the secret given to setWebhook; it considers the
update delivered when we answer 2xx and retries it otherwise. So the receiver answers:

- ``401`` without the right secret (compared in constant time; nothing is stored);
- ``400`` for a body that is not an update (retrying will not make it one);
- ``503`` while the update log is unreachable: Telegram retries, nothing is lost;
- ``200`` once the update is in the log (or was already: a retry of one we stored).

Polling stays the default; the same workers handle updates from either intake.
"""

from __future__ import annotations

import json
import logging
import secrets

from aiohttp import web
from redis.exceptions import RedisError
from telegram import Update
from telegram.ext import ExtBot

from phonicflow_bot import metrics
from phonicflow_bot.config import BotSettings
from phonicflow_bot.intake import append
from phonicflow_bot.update_log import UpdateLog

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
#: Telegram's own default for parallel webhook connections.
MAX_CONNECTIONS = 40
#: Largest body accepted: updates are a few KB (file contents never travel in them).
MAX_BODY_BYTES = 1024 * 1024


class WebhookReceiver:
    def __init__(self, update_log: UpdateLog, settings: BotSettings) -> None:
        self._log = update_log
        self._secret = settings.bot_webhook_secret.get_secret_value().encode()
        self.host = settings.bot_webhook_host
        self.port = settings.bot_webhook_port
        self.path = settings.webhook_path
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(self.path, self._receive)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self.running = False

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        if self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])
        self.running = True
        log.info("webhook receiver listening", extra={"port": self.port, "path": self.path})

    async def stop(self) -> None:
        self.running = False
        await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secrets.compare_digest(given, self._secret):
            metrics.INTAKE.labels("webhook", "refused").inc()
            log.warning("webhook call without the right secret token refused")
            return web.json_response({"ok": False, "description": "Unauthorized"}, status=401)
        try:
            data = json.loads(await request.read())
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, None)
        except (ValueError, TypeError, KeyError):
            metrics.INTAKE.labels("webhook", "refused").inc()
            return web.json_response({"ok": False, "description": "not an update"}, status=400)
        try:
            await append(self._log, update, json.dumps(data, ensure_ascii=False), "webhook")
        except RedisError as exc:
            log.warning(
                "update log unreachable; Telegram will send the update again",
                extra={"update_id": update.update_id, "error": repr(exc)},
            )
            return web.json_response({"ok": False, "description": "retry later"}, status=503)
        return web.json_response({"ok": True})


async def register(bot: ExtBot[object], settings: BotSettings) -> None:
    """Tell Telegram where to post updates. Every replica may call it: it is idempotent."""
    assert settings.bot_webhook_url is not None
    await bot.set_webhook(
        url=settings.bot_webhook_url,
        secret_token=settings.bot_webhook_secret.get_secret_value(),
        allowed_updates=Update.ALL_TYPES,
        max_connections=MAX_CONNECTIONS,
    )
    log.info("webhook registered", extra={"path": settings.webhook_path})
