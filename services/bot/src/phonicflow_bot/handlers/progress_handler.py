"""What brings a learner back: /progress, /goal, /remind, /export (the backend keeps it all,
per learner, across sessions: docs/backend-api.md "Progress").

- ``/progress`` — the backend's picture (accuracy per sound over the weeks, notes per day, the
  streak) sent with sendPhoto, and two lines: streak and today's notes; best and next sound;
- ``/goal`` shows the daily goal, ``/goal 8`` sets it (1–100);
- ``/remind`` shows the reminder, ``/remind 19:00 [zone]`` turns on one nudge a day at that
  local time when the goal is not met yet, plus the weekly summary; ``/remind off``;
- ``/export`` — everything stored about the learner, as a JSON document.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from telegram import Update
from telegram.constants import ChatAction

from phonicflow_bot.clients.backend import BackendRejected
from phonicflow_bot.context import BotContext
from phonicflow_bot.formatting import escape
from phonicflow_bot.handlers.common import begin, chat_action, chat_id, guarded, send_html
from phonicflow_bot.i18n import count, text
from phonicflow_bot.telemetry import stage
from phonicflow_common.catalogue import family_label
from phonicflow_common.contract import LearnerSettings, LearnerSettingsUpdate, ProgressResponse

#: 19:00, 7:30, 19h, 19h30, 7pm, 7:30 am.
_TIME = re.compile(r"^(\d{1,2})(?:[:h.](\d{2})?)?\s*(am|pm)?$", re.IGNORECASE)
_OFF = frozenset({"off", "stop", "no", "desligar", "parar", "não", "nao"})
MAX_GOAL = 100


def parse_time(value: str) -> str | None:
    """A learner's time of day as ``HH:MM`` (24 h), or None when it is not one."""
    found = _TIME.match(value.strip())
    if found is None:
        return None
    hour, minute = int(found[1]), int(found[2] or 0)
    suffix = (found[3] or "").lower()
    if suffix:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


def progress_lines(progress: ProgressResponse, lang: str) -> str:
    """The two lines under the /progress picture."""
    first = text(
        lang,
        "progress_caption",
        streak=count(lang, "day", progress.streak_days),
        today=progress.notes_today,
        goal=progress.daily_goal,
    )
    tried = [s for s in progress.sounds if s.attempts and s.accuracy is not None]
    if not tried:
        return f"{first}\n{text(lang, 'progress_no_sounds')}"
    best = max(tried, key=lambda s: (s.accuracy or 0.0, s.attempts))
    weakest = progress.weakest or min(tried, key=lambda s: s.accuracy or 0.0).family
    second = text(
        lang,
        "progress_sounds",
        best=escape(family_label(best.family, lang)),
        best_pct=f"{(best.accuracy or 0.0) * 100:.0f}",
        weakest=escape(family_label(weakest, lang)),
    )
    return f"{first}\n{second}"


@guarded
async def progress(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    svc = context.services
    chat, lang = chat_id(update), session.language
    user_id = session.user_id
    async with chat_action(context, chat, ChatAction.UPLOAD_PHOTO):
        with stage("backend", call="progress"):
            found = await svc.backend.progress(user_id)
            # the picture only for a learner with something to draw
            has_notes = found is not None and found.total_notes > 0
            picture = await svc.backend.progress_picture(user_id, lang) if has_notes else None
    if found is None or picture is None:
        await send_html(context, chat, text(lang, "progress_none"))
        return
    with stage("send", method="sendPhoto"):
        await context.bot.send_photo(chat, picture, caption=progress_lines(found, lang))


@guarded
async def goal(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    svc = context.services
    chat, lang = chat_id(update), session.language
    argument = " ".join(context.args or []).strip()
    if not argument:
        current = await svc.backend.update_settings(session.user_id, LearnerSettingsUpdate())
        await send_html(context, chat, text(lang, "goal_show", goal=current.daily_goal))
        return
    if not argument.isdigit() or not 1 <= int(argument) <= MAX_GOAL:
        await send_html(context, chat, text(lang, "goal_invalid"))
        return
    changed = await svc.backend.update_settings(
        session.user_id, LearnerSettingsUpdate(daily_goal=int(argument))
    )
    await send_html(context, chat, text(lang, "goal_set", goal=changed.daily_goal))


@guarded
async def remind(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    svc = context.services
    chat, lang = chat_id(update), session.language
    args = context.args or []
    if not args:
        current = await svc.backend.update_settings(session.user_id, LearnerSettingsUpdate())
        await send_html(context, chat, _reminder_state(current, lang))
        return
    if args[0].lower() in _OFF:
        await svc.backend.update_settings(
            session.user_id, LearnerSettingsUpdate(reminder_time=None, weekly_summary=False)
        )
        await send_html(context, chat, text(lang, "remind_stopped"))
        return
    at = parse_time(args[0])
    if at is None and len(args) > 1 and args[1].lower() in ("am", "pm"):
        at, args = parse_time(f"{args[0]} {args[1]}"), [args[0], *args[2:]]
    if at is None:
        await send_html(context, chat, text(lang, "remind_invalid"))
        return
    changes = LearnerSettingsUpdate(reminder_time=at, weekly_summary=True)
    zone = " ".join(args[1:]).strip()[:64]
    if zone:
        changes.time_zone = zone
    try:
        changed = await svc.backend.update_settings(session.user_id, changes)
    except BackendRejected as exc:
        if exc.code != "invalid_time_zone":
            raise
        await send_html(context, chat, text(lang, "remind_bad_zone", zone=escape(zone)))
        return
    await send_html(context, chat, _reminder_state(changed, lang))


def _reminder_state(current: LearnerSettings, lang: str) -> str:
    if current.reminder_time is None:
        return text(lang, "remind_off_now", zone=escape(current.effective_time_zone))
    return text(
        lang,
        "remind_on",
        time=current.reminder_time,
        zone=escape(current.effective_time_zone),
    )


@guarded
async def export(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    svc = context.services
    chat, lang = chat_id(update), session.language
    async with chat_action(context, chat, ChatAction.UPLOAD_DOCUMENT):
        with stage("backend", call="export"):
            found = await svc.backend.export(session.user_id)
    if found is None:
        await send_html(context, chat, text(lang, "export_none"))
        return
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    with stage("send", method="sendDocument"):
        await context.bot.send_document(
            chat,
            found.model_dump_json(indent=2).encode(),
            filename=f"phonicflow-export-{day}.json",
            caption=text(lang, "export_caption"),
        )
