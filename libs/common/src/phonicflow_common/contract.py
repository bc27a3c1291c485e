"""The bot ↔ backend HTTP contract (docs/backend-api.md): one typed definition, used by both.

The backend declares these as its FastAPI request and response models (so the OpenAPI schema
is generated from them); the bot parses every answer with them, so a field renamed on one side
fails the other side's tests instead of turning into a silent ``None``. Field names are the
seed's (section 11) where the seed has them.

Usage::

    from phonicflow_common.contract import ProcessResponse
    result = ProcessResponse.model_validate_json(body)      # bot
    return ProcessResponse(session_id=..., ...)             # backend

Additions are allowed, removals are not: a newer backend may send fields an older bot does not
know (``extra="ignore"``), and every field added later has a default.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

#: The kinds of reply audio a turn can have (``GET /audio/{session_id}?audio_type=``).
AudioType = Literal["coaching", "conversational"]
AUDIO_TYPES: tuple[AudioType, ...] = ("coaching", "conversational")

#: The longest note ``POST /process`` accepts, in seconds: what the pronunciation scorer scores
#: (backend ``MAX_AUDIO_SECONDS`` may lower it, not raise it). The bot's
#: ``MAX_AUDIO_DURATION_SECONDS`` defaults to it, so a longer note is refused at once in the
#: chat instead of being downloaded, converted and sent for nothing.
MAX_AUDIO_SECONDS = 60.0

#: Interface languages.
Language = Literal["en", "pt"]

#: Sound families a drill can train (``GET /practice/next?focus=``); error slugs are accepted
#: too and mapped to their family by the backend.
PracticeFocus = Literal["th", "vowel_insertion", "h_r", "i_ih", "final_s_ed"]

#: Whether a drill note was the drill sentence (``ProcessResponse.drill_match``): "matched", or
#: "different_sentence" when what Whisper heard does not cover the sentence's words — then the
#: answer has no per-word verdicts and no score (docs/scoring.md "Is it the drill sentence?").
DrillMatch = Literal["matched", "different_sentence"]

#: Why ``/practice/next`` picked a learner's sound.
PracticeReason = Literal["weakest", "not_tried", "review", "requested"]
#: How a sound's recent notes compare with the ones before them.
Trend = Literal["up", "down", "steady", "new"]
#: The messages the reminder sender sends.
ReminderKind = Literal["daily", "weekly"]
#: How a claimed reminder's send went: sent; failed (offered again later); blocked (Telegram's
#: 403: reminders stop until the learner writes again).
ReminderOutcome = Literal["sent", "failed", "blocked"]
#: A 24-hour local time, ``HH:MM``.
LocalTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["19:00"])]


def _json_integer(value: object) -> object:
    """A JSON integer: ``42`` or ``42.0`` (JSON does not tell them apart), never ``true`` or
    ``"42"`` (pydantic's lax mode would take both)."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a JSON integer")
    return value


#: Put after an integer's Field(...): the constraints stay in the JSON schema that way.
JSON_INTEGER = BeforeValidator(_json_integer)
#: A Telegram user id: a positive integer.
TelegramUserId = Annotated[int, Field(gt=0, le=2**53, description="Telegram user id"), JSON_INTEGER]


class Model(BaseModel):
    """Base of every contract model: unknown fields are ignored, so either side may be newer."""

    model_config = ConfigDict(extra="ignore")


class ErrorResponse(Model):
    detail: str = Field(description="A sentence a developer understands.")
    code: str = Field(description="A stable slug, e.g. unknown_session, too_large, not_audio.")


# -- sessions and learners ----------------------------------------------------------------------


class CreateSessionRequest(Model):
    model_config = ConfigDict(extra="forbid")

    telegram_user_id: TelegramUserId | None = None
    language: Language | None = None


class CreateSessionResponse(Model):
    session_id: str
    created_at: str


class LearnerSession(Model):
    """A learner's most recent session, so a bot that lost its memory continues it."""

    telegram_user_id: int
    session_id: str
    created_at: str
    last_activity: str = Field(description="The last turn's time, or created_at without turns.")
    turns: int
    language: Language | None


class LearnerDeleted(Model):
    """What ``DELETE /learner/{telegram_user_id}`` erased (zeros when nothing was stored)."""

    telegram_user_id: int
    deleted: bool = Field(description="True when a learner record existed.")
    sessions: int
    turns: int
    audio: int
    labels: int = 0
    progress: int = Field(
        default=0, description="Rows of progress (days, sounds) and reminders erased."
    )


class LearnerUpdate(Model):
    """``PATCH /learner/{telegram_user_id}``: the fields to change (the record is made if new)."""

    model_config = ConfigDict(extra="forbid")

    language: Language | None = None
    #: Consent to keep the notes whose verdicts the learner corrects, as labelled examples.
    label_consent: Annotated[bool, Field(strict=True)] | None = None


class Learner(Model):
    telegram_user_id: int
    language: Language | None
    label_consent: bool
    created_at: str


#: How a learner corrects a word's verdict: they said it right (the scorer flagged it wrongly),
#: they said it wrong (the scorer missed it), or an error slug naming what they really did.
Correction = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class LabelRequest(Model):
    """``POST /learner/{telegram_user_id}/labels``: "the verdict for this word was wrong"."""

    model_config = ConfigDict(extra="forbid")

    turn_id: str = Field(min_length=36, max_length=36)
    word_index: Annotated[int, Field(ge=0, lt=200), JSON_INTEGER]
    correction: Correction = Field(description='"said_right", "said_wrong", or an error slug')


class LabelCreated(Model):
    label_id: int


# -- turns --------------------------------------------------------------------------------------


#: A word the scorer found no error in is still shown ⚠️ "not clear" below this score (the
#: scorer's midpoint: a flagged word scores at most 50), so a well-said note is not dotted with
#: warnings; the backend's coaching never praises such a note as perfect.
UNCLEAR_WORD_SCORE = 50.0
#: Words said in one "hear it right" voice note.
MAX_WORDS_TO_HEAR = 4


class WordResult(Model):
    expected: str
    heard: str
    score: float
    error: str | None = Field(description="An error slug of docs/scoring.md, null if said well.")
    error_type: str | None
    expected_phones: str
    heard_phones: str
    start: float
    end: float
    tip_en: str
    tip_pt: str
    scored: bool = Field(
        default=True,
        description="False when the word could not be checked (no pronunciation known, or the "
        "note could not be aligned): no verdict, not an error.",
    )

    @property
    def needs_work(self) -> bool:
        """Flagged, missing or not clear: the bot shows it ⚠️ or ❌."""
        return self.scored and (self.error is not None or self.score < UNCLEAR_WORD_SCORE)


class Pronunciation(Model):
    overall_score: float
    words: list[WordResult]

    def words_to_hear(self) -> list[str]:
        """The words that need work, once each in the sentence's order: what "hear it right"
        says slowly (``GET /audio/{session_id}/words``)."""
        found = dict.fromkeys(w.expected.strip('.,!?;:"“”') for w in self.words if w.needs_work)
        return [word for word in found if word][:MAX_WORDS_TO_HEAR]


class AudioAvailable(Model):
    coaching: bool
    conversational: bool


class DrillOutcome(Model):
    """How a drill note went for the sound it trains, and whether that sound is now mastered."""

    focus: str = Field(description="The drill's sound family.")
    right: bool = Field(description="Said without an error of that sound.")
    recent_right: int = Field(description="Right among the sound's last recent_attempts notes.")
    recent_attempts: int
    mastered: bool
    newly_mastered: bool = Field(description="This note made the sound mastered.")


class NoteProgress(Model):
    """The learner's progress right after one voice note (part of the /process answer)."""

    notes_today: int
    daily_goal: int
    goal_met: bool
    goal_just_met: bool = Field(description="This note reached the daily goal.")
    streak_days: int
    drill: DrillOutcome | None = None


class ProcessResponse(Model):
    session_id: str
    turn_id: str
    user_transcript: str
    coaching_feedback: str
    coaching_feedback_portuguese: str
    conversational_response: str
    conversational_response_portuguese: str
    coaching_audio_path: str | None = Field(
        description="URL relative to the backend (GET /audio/...), null when not produced."
    )
    conversational_audio_path: str | None
    target_text: str | None
    pronunciation: Pronunciation | None = Field(
        description="Per-word results; null for a text-only turn or when scoring failed."
    )
    audio_available: AudioAvailable
    degraded: list[str] = Field(
        description='Stages that failed and were skipped: "stt", "scoring", "translation", "tts", "llm".'
    )
    timings_ms: dict[str, int] = Field(
        description="Milliseconds per stage (stt, scoring, coaching, translation, tts) and total."
    )
    progress: NoteProgress | None = Field(
        default=None,
        description="The learner's day and drill after this note; null for a text turn or a "
        "session without a learner.",
    )
    drill_match: DrillMatch | None = Field(
        default=None,
        description='For a voice note with target_text: "matched", or "different_sentence" '
        "when it did not sound like the drill sentence (pronunciation is then null: no word "
        "is judged against words nobody said; user_transcript says what was heard). Null for "
        "free speech and text turns.",
    )


class HistoryItem(Model):
    user: str
    conversational: str
    coaching: str
    timestamp: str
    turn_id: str
    score: float | None
    target_text: str | None
    coaching_portuguese: str | None
    conversational_portuguese: str | None


class HistoryResponse(Model):
    session_id: str
    history: list[HistoryItem]


class DeleteResponse(Model):
    session_id: str
    deleted: bool


# -- practice -----------------------------------------------------------------------------------


class PracticeItem(Model):
    id: str
    text: str
    focus: str
    hint_en: str
    hint_pt: str
    reason: PracticeReason | None = Field(
        default=None,
        description="Why this sound, when chosen for a learner: their weakest, one not tried "
        "yet, a review (every sound mastered), or the focus asked for.",
    )


# -- progress, settings, reminders, export (docs/backend-api.md "Progress") ------------------------


class SoundCount(Model):
    attempts: int = Field(description="Notes in which the sound came up.")
    right: int = Field(description="Of them, the notes with no error of this sound.")


class SoundProgress(SoundCount):
    family: str = Field(description="The sound family (th, vowel_insertion, h_r, ...).")
    label_en: str
    label_pt: str
    accuracy: float | None = Field(description="right / attempts (0..1); null before any.")
    recent: list[bool] = Field(description="The last (up to 10) attempts, oldest first.")
    trend: Trend
    mastered: bool
    last_practised: str | None = Field(description="Local date (YYYY-MM-DD) of the last attempt.")


class DayActivity(Model):
    date: str = Field(description="Local date, YYYY-MM-DD.")
    notes: int


class WeekSounds(Model):
    week_start: str = Field(description="The Monday of the week (local date).")
    notes: int
    sounds: dict[str, SoundCount] = Field(description="Per sound family practised that week.")


class ProgressResponse(Model):
    telegram_user_id: int
    today: str = Field(description="The learner's local date at the reference time.")
    time_zone: str = Field(description="The zone days are counted in (the learner's or default).")
    daily_goal: int
    notes_today: int
    goal_met: bool
    streak_days: int = Field(
        description="Consecutive days with a voice note, up to today (or yesterday while today "
        "has none yet)."
    )
    practised_today: bool
    total_notes: int
    sounds: list[SoundProgress] = Field(description="Every sound family, in catalogue order.")
    weakest: str | None = Field(description="The family /practice would drill next.")
    days: list[DayActivity] = Field(description="The last 28 days, oldest first.")
    weeks: list[WeekSounds] = Field(description="The last `weeks` weeks, oldest first.")


class LearnerSettings(Model):
    telegram_user_id: int
    language: Language | None
    daily_goal: int
    reminder_time: str | None = Field(description="Local HH:MM of the daily nudge; null: off.")
    time_zone: str | None = Field(description="IANA zone or UTC offset as set; null: default.")
    effective_time_zone: str
    weekly_summary: bool
    blocked: bool = Field(description="Telegram said the learner blocked the bot (403).")
    next_reminder_at: str | None = Field(description="UTC time of the next nudge, if any.")


class LearnerSettingsUpdate(Model):
    """``PATCH /learner/{id}/settings``: only the fields sent change; ``reminder_time: null``
    switches reminders off."""

    model_config = ConfigDict(extra="forbid")

    language: Language | None = None
    daily_goal: Annotated[int, Field(ge=1, le=100), JSON_INTEGER] | None = None
    reminder_time: LocalTime | None = None
    time_zone: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="An IANA zone (America/Sao_Paulo) or a UTC offset (-03:00, UTC-3, +5:30).",
    )
    weekly_summary: bool | None = None


class SoundRef(Model):
    family: str
    label_en: str
    label_pt: str
    accuracy: float


class WeekSummary(Model):
    week_start: str
    week_end: str
    notes: int
    days_practised: int
    best: SoundRef | None
    weakest: SoundRef | None


class Reminder(Model):
    """One message the sender must send now, to the chat of ``telegram_user_id``."""

    claim_id: str = Field(description="Report the outcome with this id.")
    telegram_user_id: int
    kind: ReminderKind
    local_date: str
    language: Language | None
    daily_goal: int
    notes_today: int
    streak_days: int
    week: WeekSummary | None = Field(default=None, description="For kind=weekly.")


class ReminderClaimRequest(Model):
    model_config = ConfigDict(extra="forbid")

    now: datetime | None = Field(
        default=None, description="Reference time (aware); default: the backend's clock."
    )
    limit: Annotated[int, Field(ge=1, le=500), JSON_INTEGER] = 50


class ReminderClaimResponse(Model):
    reminders: list[Reminder]


class ReminderOutcomeRequest(Model):
    model_config = ConfigDict(extra="forbid")

    outcome: ReminderOutcome = Field(
        description="sent; failed (transient: offered again later); blocked (Telegram 403: "
        "reminders stop until the learner writes again)."
    )
    now: datetime | None = None


class ReminderOutcomeResponse(Model):
    claim_id: str
    status: str


class LearnerExport(Model):
    """Everything stored about a learner, one section per table, plus their progress."""

    format: Literal["phonicflow-export/1"] = "phonicflow-export/1"
    exported_at: str
    telegram_user_id: int
    progress: ProgressResponse | None
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="Every row of theirs, by table; reply audio as its size, not its bytes."
    )


# -- operations ---------------------------------------------------------------------------------


class StatusResponse(Model):
    status: str
    version: str
    engines: dict[str, str]
    uptime_seconds: float


class BotMetricRequest(Model):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    #: A counter increment: a number (strict: not a bool or a string), never negative.
    value: Annotated[float, Field(ge=0, strict=True)] = 1.0
    labels: dict[str, str] = Field(default_factory=dict, max_length=8)


class AcceptedResponse(Model):
    accepted: bool = True


class HealthResponse(Model):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


__all__ = [
    "AUDIO_TYPES",
    "MAX_WORDS_TO_HEAR",
    "UNCLEAR_WORD_SCORE",
    "AcceptedResponse",
    "AudioAvailable",
    "AudioType",
    "BotMetricRequest",
    "Correction",
    "CreateSessionRequest",
    "CreateSessionResponse",
    "DayActivity",
    "DeleteResponse",
    "DrillMatch",
    "DrillOutcome",
    "ErrorResponse",
    "HealthResponse",
    "HistoryItem",
    "HistoryResponse",
    "LabelCreated",
    "LabelRequest",
    "Language",
    "Learner",
    "LearnerDeleted",
    "LearnerExport",
    "LearnerSession",
    "LearnerSettings",
    "LearnerSettingsUpdate",
    "LearnerUpdate",
    "LocalTime",
    "Model",
    "NoteProgress",
    "PracticeFocus",
    "PracticeItem",
    "PracticeReason",
    "ProcessResponse",
    "ProgressResponse",
    "Pronunciation",
    "Reminder",
    "ReminderClaimRequest",
    "ReminderClaimResponse",
    "ReminderKind",
    "ReminderOutcome",
    "ReminderOutcomeRequest",
    "ReminderOutcomeResponse",
    "SoundCount",
    "SoundProgress",
    "SoundRef",
    "StatusResponse",
    "TelegramUserId",
    "Trend",
    "WeekSounds",
    "WeekSummary",
    "WordResult",
]
