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

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

#: The kinds of reply audio a turn can have (``GET /audio/{session_id}?audio_type=``).
AudioType = Literal["coaching", "conversational"]
AUDIO_TYPES: tuple[AudioType, ...] = ("coaching", "conversational")

#: Interface languages.
Language = Literal["en", "pt"]

#: Sound families a drill can train (``GET /practice/next?focus=``); error slugs are accepted
#: too and mapped to their family by the backend.
PracticeFocus = Literal["th", "vowel_insertion", "h_r", "i_ih", "final_s_ed"]

#: A Telegram user id: a positive integer, never a bool or a numeric string.
TelegramUserId = Annotated[StrictInt, Field(gt=0, le=2**53, description="Telegram user id")]


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
    word_index: Annotated[StrictInt, Field(ge=0, lt=200)]
    correction: Correction = Field(description='"said_right", "said_wrong", or an error slug')


class LabelCreated(Model):
    label_id: int


# -- turns --------------------------------------------------------------------------------------


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


class Pronunciation(Model):
    overall_score: float
    words: list[WordResult]


class AudioAvailable(Model):
    coaching: bool
    conversational: bool


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
    "AcceptedResponse",
    "AudioAvailable",
    "AudioType",
    "BotMetricRequest",
    "Correction",
    "CreateSessionRequest",
    "CreateSessionResponse",
    "DeleteResponse",
    "ErrorResponse",
    "HealthResponse",
    "HistoryItem",
    "HistoryResponse",
    "LabelCreated",
    "LabelRequest",
    "Language",
    "Learner",
    "LearnerDeleted",
    "LearnerSession",
    "LearnerUpdate",
    "Model",
    "PracticeFocus",
    "PracticeItem",
    "ProcessResponse",
    "Pronunciation",
    "StatusResponse",
    "TelegramUserId",
    "WordResult",
]
