"""The ``/progress`` picture: accuracy per sound over the last weeks, and notes per day with
the goal and the streak. matplotlib's object API on the Agg canvas: no display, no pyplot
(whose global figure state is not safe across threads).

Usage::

    fig = progress_figure(progress, "pt")        # a Figure; tests read its lines and bars back
    png = render_png(progress, "pt")             # bytes of a PNG

Each plotted series carries a ``gid`` (``accuracy:<family>`` on a line, ``notes`` on each bar) so a test can find it
and compare its data with the stored progress; the PNG carries the same series as JSON in a
``phonicflow:series`` text chunk, so whoever receives the image can check it too.
"""

from __future__ import annotations

import io
import json
import math
import threading
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from phonicflow_common.contract import Language, ProgressResponse

#: matplotlib's text and font caches are shared by all figures: one render at a time.
_RENDER_LOCK = threading.Lock()
SIZE_INCHES = (8.0, 6.0)
DPI = 100
SERIES_KEY = "phonicflow:series"

_TEXT = {
    "en": {
        "accuracy": "Said right, per sound (% of notes)",
        "notes": "Voice notes per day (last 4 weeks)",
        "goal": "goal {goal}",
        "title": "Your progress: {streak} day streak, {today}/{goal} notes today",
        "week": "week of",
        "none": "No sounds scored yet: send a voice note or try /practice",
    },
    "pt": {
        "accuracy": "Acertos por som (% das mensagens)",
        "notes": "Mensagens de voz por dia (últimas 4 semanas)",
        "goal": "meta {goal}",
        "title": "Seu progresso: {streak} dias seguidos, {today}/{goal} mensagens hoje",
        "week": "semana de",
        "none": "Nenhum som avaliado ainda: mande um áudio ou use /practice",
    },
}


def accuracy_series(progress: ProgressResponse) -> dict[str, list[float | None]]:
    """family → percent said right per week (None for a week without that sound); only the
    families practised in the weeks shown."""
    families = [s.family for s in progress.sounds]
    series: dict[str, list[float | None]] = {}
    for family in families:
        values: list[float | None] = []
        for week in progress.weeks:
            counts = week.sounds.get(family)
            values.append(
                round(100 * counts.right / counts.attempts, 2)
                if counts and counts.attempts
                else None
            )
        if any(v is not None for v in values):
            series[family] = values
    return series


def _short(day: str) -> str:
    parsed = date.fromisoformat(day)
    return f"{parsed.day:02d}/{parsed.month:02d}"


def progress_figure(progress: ProgressResponse, language: Language = "en") -> Figure:
    text = _TEXT[language]
    labels = {s.family: s.label_pt if language == "pt" else s.label_en for s in progress.sounds}
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=(3, 2))
    fig.suptitle(
        text["title"].format(
            streak=progress.streak_days, today=progress.notes_today, goal=progress.daily_goal
        ),
        fontsize=13,
        fontweight="bold",
    )

    weeks = [_short(w.week_start) for w in progress.weeks]
    series = accuracy_series(progress)
    for family, values in series.items():
        (line,) = top.plot(
            range(len(weeks)),
            [math.nan if v is None else v for v in values],
            marker="o",
            linewidth=2,
            label=labels.get(family, family),
        )
        line.set_gid(f"accuracy:{family}")
    top.set_title(text["accuracy"], fontsize=11, loc="left")
    top.set_ylim(-5, 105)
    top.set_xticks(range(len(weeks)), [f"{text['week']} {w}" for w in weeks], fontsize=8)
    top.grid(axis="y", alpha=0.3)
    if series:
        top.legend(fontsize=8, loc="lower left", ncols=2, frameon=False)
    else:
        top.text(0.5, 0.5, text["none"], ha="center", va="center", transform=top.transAxes)

    notes = [d.notes for d in progress.days]
    bottom.bar(
        range(len(notes)),
        notes,
        color=["#2e7d32" if n >= progress.daily_goal else "#90caf9" for n in notes],
        gid="notes",  # on every bar
    )
    bottom.axhline(progress.daily_goal, color="#e65100", linestyle="--", linewidth=1)
    bottom.text(
        len(notes) - 0.5,
        progress.daily_goal,
        text["goal"].format(goal=progress.daily_goal),
        color="#e65100",
        ha="right",
        va="bottom",
        fontsize=8,
    )
    ticks = [*range(0, len(notes), 7), len(notes) - 1]
    bottom.set_xticks(ticks, [_short(progress.days[i].date) for i in ticks], fontsize=8)
    bottom.set_title(text["notes"], fontsize=11, loc="left")
    bottom.set_ylim(0, max([progress.daily_goal, *notes]) * 1.25)
    return fig


def render_png(progress: ProgressResponse, language: Language = "en") -> bytes:
    """The picture as PNG bytes (CPU-bound: call it in a worker thread)."""
    series = {
        "accuracy": accuracy_series(progress),
        "notes": [d.notes for d in progress.days],
        "streak_days": progress.streak_days,
    }
    with _RENDER_LOCK:
        fig = progress_figure(progress, language)
        FigureCanvasAgg(fig)
        buffer = io.BytesIO()
        fig.savefig(
            buffer,
            format="png",
            metadata={"Title": "PhonicFlow progress", SERIES_KEY: json.dumps(series)},
        )
    return buffer.getvalue()


__all__ = ["SERIES_KEY", "accuracy_series", "progress_figure", "render_png"]
