"""Webhook delivery, as Telegram does it: POST each pending update to the bot's URL.

While a webhook is set (setWebhook), every pending update is POSTed as JSON to its URL with the
header ``X-Telegram-Bot-Api-Secret-Token`` (when a secret was given). An update counts as
delivered — and is dropped, like a getUpdates offset confirming it — only when the bot answers
2xx; any other status, a timeout or a refused connection leaves it pending and it is sent again
after a pause that grows (``EMULATOR_WEBHOOK_RETRY_SECONDS`` at most). getWebhookInfo reports
``pending_update_count`` and the last error, as Telegram's does.

Up to ``max_connections`` deliveries run at once (setWebhook's parameter, 40 by default), but
one chat's updates go one at a time and in order: a chat's next update waits until the one
before it was delivered. Every attempt is kept for tests (``GET /_emu/webhook``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx

from phonicflow_emulator.store import JSON, Store

log = logging.getLogger("phonicflow_emulator.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
#: Seconds one delivery may take before it counts as failed.
DELIVERY_TIMEOUT = 10.0
#: First pause before delivering a failed update again; it doubles per failure.
RETRY_INITIAL = 0.2
#: How often the loop looks again when nothing wakes it (retries that come due).
IDLE_SECONDS = 0.1


def _chat_of(update: JSON) -> object:
    for value in update.values():
        if isinstance(value, dict):
            chat = value.get("chat") or (value.get("message") or {}).get("chat")
            if isinstance(chat, dict):
                return chat.get("id")
            sender = value.get("from")
            if isinstance(sender, dict):
                return sender.get("id")
    return None


class WebhookDelivery:
    """The delivery loop of one emulator; see the module docstring."""

    def __init__(self, store: Store, retry_max: float) -> None:
        self.store = store
        self.retry_max = retry_max
        self._in_flight: set[int] = set()
        self._retry_at: dict[int, float] = {}
        self._failures: dict[int, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    async def run(self) -> None:
        self._http = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT)
        try:
            while True:
                await self.store.wait_until(lambda: bool(self._due()), IDLE_SECONDS)
                for update in self._due():
                    self._in_flight.add(update["update_id"])
                    task = asyncio.create_task(self._deliver(update))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                await asyncio.sleep(0)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await self._http.aclose()

    def _due(self) -> list[JSON]:
        """Updates to send now: in order, one per chat, within the connection limit."""
        store = self.store
        if not store.webhook_url:
            return []
        room = store.webhook_max_connections - len(self._in_flight)
        now = time.monotonic()
        busy: set[object] = set()
        due: list[JSON] = []
        for update in store.deliverable_updates(len(store.updates)):
            if room <= 0:
                break
            chat = _chat_of(update)
            waiting = update["update_id"] in self._in_flight or (
                self._retry_at.get(update["update_id"], 0.0) > now
            )
            if chat in busy or waiting:
                if chat is not None:
                    busy.add(chat)  # later updates of this chat wait for this one
                continue
            if chat is not None:
                busy.add(chat)
            due.append(update)
            room -= 1
        return due

    async def _deliver(self, update: JSON) -> None:
        store = self.store
        update_id = update["update_id"]
        url = store.webhook_url
        headers = {SECRET_HEADER: store.webhook_secret} if store.webhook_secret else {}
        started = time.time()
        status: int | None = None
        error = ""
        try:
            assert self._http is not None
            answer = await self._http.post(url, json=update, headers=headers)
            status = answer.status_code
            if not 200 <= status < 300:
                error = f"Wrong response from the webhook: {status} {answer.reason_phrase}"
        except httpx.HTTPError as exc:
            error = f"Connection failed: {type(exc).__name__}"
        finally:
            self._in_flight.discard(update_id)
        store.webhook_deliveries.append(
            {"update_id": update_id, "status": status, "time": started, "error": error or None}
        )
        if not error:
            self._retry_at.pop(update_id, None)
            self._failures.pop(update_id, None)
            with contextlib.suppress(ValueError):
                store.updates.remove(update)
        else:
            failures = self._failures.get(update_id, 0) + 1
            self._failures[update_id] = failures
            pause = min(RETRY_INITIAL * 2 ** (failures - 1), self.retry_max)
            self._retry_at[update_id] = time.monotonic() + pause
            store.webhook_last_error = (int(started), error)
            log.info("webhook delivery failed", extra={"update_id": update_id, "error": error})
        await store.notify()
