"""Turn backend results into Telegram HTML that reads at a glance.

Usage::

    html = format_feedback(result, "pt")          # what was heard, word by word, score, coaching
    page_html, pages = format_history(turns, page=0, lang="en")

Everything that comes from a learner or the backend is escaped (``html.escape``): transcripts
can contain ``<``, ``&``, emoji and odd Unicode. Messages are cut to Telegram's 4096-character
limit on a line boundary, never inside an HTML tag.
"""

from __future__ import annotations

import html

from phonicflow_bot.i18n import count, text
from phonicflow_common.catalogue import error_label as catalogue_label
from phonicflow_common.catalogue import family_label
from phonicflow_common.contract import (
    UNCLEAR_WORD_SCORE,
    HistoryItem,
    NoteProgress,
    ProcessResponse,
    WordResult,
)

#: Telegram's limit for one message's text.
MAX_MESSAGE_CHARS = 4096
#: Turns per /history page.
HISTORY_PAGE_SIZE = 5
#: Longest excerpt of a turn shown in /history.
HISTORY_EXCERPT_CHARS = 160


def escape(value: object) -> str:
    return html.escape(str(value), quote=False)


def error_label(slug: str, lang: str) -> str:
    """The learner-facing name of an error (from the shared catalogue), escaped."""
    return escape(catalogue_label(slug, lang))


def _score(value: float) -> str:
    return f"{value:.0f}"


def format_word(word: WordResult, lang: str) -> str:
    """One line per word; every ⚠️/❌ says why:

    ``✅ trees`` · ``⚠️ “think” → heard “tink” (TH sounded like T)`` · ``⚠️ “the” — TH sounded
    like D`` (heard as written, the reason alone) · ``⚠️ “are” — not clear`` (no catalogue error,
    low score) · ``❌ “are” — not heard (word missing)`` · ``➖ “Zorgle” — couldn't check``.
    """
    expected = escape(word.expected or word.heard or "?")
    heard = word.heard.strip()
    slug = word.error
    if not word.scored:
        return f"➖ “{expected}” — {text(lang, 'word_not_checked')}"
    if not slug:
        if word.score >= UNCLEAR_WORD_SCORE:
            return f"✅ {expected}"
        return f"⚠️ “{expected}” — {text(lang, 'word_unclear')}"
    label = error_label(slug, lang)
    if slug == "omitted" or not heard:
        return f"❌ “{expected}” — {text(lang, 'word_missing')} ({label})"
    if heard.casefold() == (word.expected or "").strip().casefold():
        return f"⚠️ “{expected}” — {label}"
    return f"⚠️ “{expected}” → {text(lang, 'word_heard')} “{escape(heard)}” ({label})"


def truncate(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Cut at a line boundary so no HTML tag is split (every tag here opens and closes on one line)."""
    if len(message) <= limit:
        return message
    lines = message.split("\n")
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > limit - 2:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) + "\n…"


def format_feedback(result: ProcessResponse, lang: str) -> str:
    """The reply to a voice note (or a text turn): heard, words, score, coaching, reply."""
    parts: list[str] = []
    pronunciation = result.pronunciation
    transcript = result.user_transcript.strip()
    if result.drill_match == "different_sentence":
        # not the drill sentence: what was heard and the sentence again, no verdicts or score
        heard = escape(transcript) if transcript else text(lang, "heard_nothing")
        parts.append(text(lang, "heard", transcript=heard))
        parts.append("")
        parts.append(text(lang, "drill_different"))
        parts.append(text(lang, "target", target=escape(result.target_text or "")))
    elif pronunciation is not None:
        heard = escape(transcript) if transcript else text(lang, "heard_nothing")
        parts.append(text(lang, "heard", transcript=heard))
        if result.target_text:
            parts.append(text(lang, "target", target=escape(result.target_text)))
        if pronunciation.words:
            parts.append("")
            parts.append(text(lang, "words"))
            parts.extend(format_word(word, lang) for word in pronunciation.words)
        parts.append("")
        parts.append(text(lang, "score", score=_score(pronunciation.overall_score)))
    coaching_en = result.coaching_feedback
    coaching_pt = result.coaching_feedback_portuguese
    if coaching_en or coaching_pt:
        parts.append("")
        parts.append(text(lang, "coaching"))
        first, second = (coaching_pt, coaching_en) if lang == "pt" else (coaching_en, coaching_pt)
        if first:
            parts.append(f"{_flag(lang)} {escape(first)}")
        if second:
            parts.append(f"{_flag('en' if lang == 'pt' else 'pt')} <i>{escape(second)}</i>")
    if result.progress is not None:
        parts.append("")
        parts.extend(note_progress_lines(result.progress, lang))
    reply_en = result.conversational_response
    reply_pt = result.conversational_response_portuguese
    if reply_en:
        parts.append("")
        parts.append(text(lang, "reply"))
        parts.append(f"🇬🇧 {escape(reply_en)}")
        if reply_pt:
            parts.append(f"🇧🇷 <i>{escape(reply_pt)}</i>")
    return truncate("\n".join(parts).strip())


def note_progress_lines(progress: NoteProgress, lang: str) -> list[str]:
    """After a voice note: the day against the goal and the streak; how the drilled sound
    goes, and "mastered" when this note made it so."""
    streak = count(lang, "day", progress.streak_days)
    lines = [
        text(
            lang,
            "note_progress",
            today=progress.notes_today,
            goal=progress.daily_goal,
            streak=streak,
        )
    ]
    if progress.goal_just_met:
        lines.append(text(lang, "goal_just_met"))
    drill = progress.drill
    if drill is not None:
        values = {
            "sound": escape(family_label(drill.focus, lang)),
            "right": drill.recent_right,
            "attempts": drill.recent_attempts,
        }
        key = "drill_mastered" if drill.newly_mastered else "drill_outcome"
        lines.append(text(lang, key, **values))
    return lines


def _flag(lang: str) -> str:
    return "🇧🇷" if lang == "pt" else "🇬🇧"


def history_pages(turn_count: int) -> int:
    return max(1, -(-turn_count // HISTORY_PAGE_SIZE))


def format_history(turns: list[HistoryItem], page: int, lang: str) -> tuple[str, int]:
    """One page of history, most recent turn first; returns (html, number of pages)."""
    recent_first = list(reversed(turns))
    pages = history_pages(len(recent_first))
    page = min(max(page, 0), pages - 1)
    chunk = recent_first[page * HISTORY_PAGE_SIZE : (page + 1) * HISTORY_PAGE_SIZE]
    lines = [text(lang, "history_header", page=page + 1, pages=pages)]
    for index, turn in enumerate(chunk, start=page * HISTORY_PAGE_SIZE + 1):
        when = escape(turn.timestamp[:16].replace("T", " "))
        said = escape(_excerpt(turn.user))
        line = f"\n<b>{index}.</b> {when}\n{text(lang, 'history_you')}: {said}"
        if turn.score is not None:
            line += f"\n📈 {text(lang, 'history_score')}: {_score(turn.score)}"
        coaching = turn.coaching_portuguese if lang == "pt" else turn.coaching
        if coaching:
            line += f"\n🧑‍🏫 {escape(_excerpt(coaching))}"
        lines.append(line)
    return truncate("\n".join(lines)), pages


def _excerpt(value: str) -> str:
    value = " ".join(str(value).split())
    if len(value) <= HISTORY_EXCERPT_CHARS:
        return value
    return value[: HISTORY_EXCERPT_CHARS - 1] + "…"
