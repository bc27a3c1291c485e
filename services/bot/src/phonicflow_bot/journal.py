"""What handling one update already did, so handling it again resumes instead of repeating.

A worker can die halfway through an update: the feedback text sent, the voice notes not yet.
Another worker then handles the same update again from the start. So each update has a journal
(kept by the :mod:`update log <phonicflow_bot.update_log>`): every Telegram call that shows the
learner something — sendMessage, sendVoice, editMessageText, answerCallbackQuery, … — and every
memoised step is recorded with its result, in order. Handling the update again replays those
results instead of calling Telegram or the backend again; the first call without a record is
where the first attempt stopped, and from there on calls are real.

Two seams make this invisible to the handlers:

- :class:`JournaledBot`, python-telegram-bot's ``ExtBot`` with ``_do_post`` (the one method every
  Bot API call goes through) consulting the journal of the update being handled;
- :func:`memo` for the steps whose inputs the first attempt changed: the backend's turn (the
  practice sentence it was scored against is cleared afterwards), the rate-limit decision (a
  second count could refuse an update that was let in), the practice sentence chosen::

      result = await memo("process", lambda: backend.process(...), ProcessResponse)

The worker sets the journal of the update it handles (:func:`handling`); outside of that (tests,
the health-only mode) both seams pass straight through. The backend's Idempotency-Key keeps the
turn itself single even without the journal; the journal is what keeps the *replies* single.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from pydantic import TypeAdapter
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import JSONDict, ODVInput
from telegram.ext import ExtBot

from phonicflow_bot import metrics
from phonicflow_bot.update_log import UpdateLog

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Bot API methods with an effect a learner sees, besides every send*/edit*/answer*/copy*/
#: forward* one; everything else (getFile, getMe, sendChatAction, …) is harmless to repeat.
_VISIBLE = frozenset({"deleteMessage", "deleteMessages", "setMessageReaction"})


def is_visible(endpoint: str) -> bool:
    if endpoint == "sendChatAction":
        return False
    return endpoint in _VISIBLE or endpoint.startswith(
        ("send", "edit", "answer", "copy", "forward")
    )


class UpdateJournal:
    """The journal of the update being handled: recorded steps plus a cursor per kind."""

    def __init__(self, log: UpdateLog, update_id: int, recorded: dict[str, str]) -> None:
        self._log = log
        self.update_id = update_id
        self._recorded = dict(recorded)
        self._resumed = bool(recorded)
        self._calls = 0
        self._memos: dict[str, int] = {}
        self._diverged = False
        #: Set by the error handler: a fault of Redis or the network, not of the request; the
        #: worker leaves the update unacknowledged so it is handled again.
        self.retry_later = False
        self.replayed = 0

    @property
    def resumed(self) -> bool:
        """True when an earlier attempt at this update had already recorded steps."""
        return self._resumed

    @property
    def recorded(self) -> dict[str, str]:
        """Every step recorded so far (to handle the update again in this process)."""
        return dict(self._recorded)

    async def telegram_call(self, endpoint: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """The ``n``-th visible Bot API call of this update: replayed, or made and recorded.

        The intent is recorded before the call and the result after it. A step found with its
        intent but no result is the one call no journal can settle: the process died while it
        was on its way, and Telegram may or may not have shown it (the Bot API offers no way to
        ask, nor an idempotency key). It is made again — a rare repeat rather than a reply
        missing for good — and counted (``phonicflow_bot_replies_uncertain_total``).
        """
        step = f"tg:{self._calls}"
        self._calls += 1
        found = self._recorded.get(step) if not self._diverged else None
        if found is not None:
            recorded = json.loads(found)
            if recorded.get("method") == endpoint and "result" in recorded:
                self.replayed += 1
                return recorded["result"]
            if recorded.get("method") == endpoint:
                metrics.REPLIES_UNCERTAIN.inc()
                log.warning(
                    "a reply was on its way when its worker died; sending it again",
                    extra={"update_id": self.update_id, "step": step, "method": endpoint},
                )
            else:
                # The handler took another path than last time (it read state the first
                # attempt changed): from here on nothing recorded describes what it is doing.
                log.warning(
                    "journal diverged; sending for real from here",
                    extra={"update_id": self.update_id, "step": step, "method": endpoint},
                )
                self._diverged = True
        await self._record(step, json.dumps({"method": endpoint}))
        result = await call()
        await self._record(step, json.dumps({"method": endpoint, "result": result}))
        return result

    async def memo(self, name: str, produce: Callable[[], Awaitable[T]], kind: type[T]) -> T:
        count = self._memos.get(name, 0)
        self._memos[name] = count + 1
        step = f"memo:{name}:{count}"
        adapter: TypeAdapter[T] = TypeAdapter(kind)
        found = self._recorded.get(step)
        if found is not None:
            self.replayed += 1
            return adapter.validate_json(found)
        value = await produce()
        await self._record(step, adapter.dump_json(value).decode())
        return value

    async def _record(self, step: str, value: str) -> None:
        self._recorded[step] = value
        await self._log.record(self.update_id, step, value)


_current: contextvars.ContextVar[UpdateJournal | None] = contextvars.ContextVar(
    "phonicflow_journal", default=None
)


def current() -> UpdateJournal | None:
    """The journal of the update this task is handling, if any."""
    return _current.get()


@contextlib.contextmanager
def handling(journal: UpdateJournal) -> Iterator[UpdateJournal]:
    """Make ``journal`` the current one for the code (and the tasks it starts) inside."""
    token = _current.set(journal)
    try:
        yield journal
    finally:
        _current.reset(token)


async def memo(name: str, produce: Callable[[], Awaitable[T]], kind: type[T]) -> T:
    """``await produce()`` once per update: a handled-again update gets the recorded value."""
    journal = _current.get()
    if journal is None:
        return await produce()
    return await journal.memo(name, produce, kind)


class JournaledBot(ExtBot[Any]):
    """PTB's ExtBot whose visible calls go through the current update's journal."""

    async def _do_post(
        self,
        endpoint: str,
        data: JSONDict,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> bool | JSONDict | list[JSONDict]:
        post = super()._do_post

        async def call() -> bool | JSONDict | list[JSONDict]:
            return await post(
                endpoint,
                data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )

        journal = _current.get()
        if journal is None or not is_visible(endpoint):
            return await call()
        result: bool | JSONDict | list[JSONDict] = await journal.telegram_call(endpoint, call)
        return result
