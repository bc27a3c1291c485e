"""The HTTP schemas (pydantic), exactly the field names of docs/backend-api.md."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    detail: str = Field(description="A sentence a developer understands.")
    code: str = Field(description="A stable slug, e.g. unknown_session, too_large, not_audio.")


class CreateSessionRequest(BaseModel):
    telegram_user_id: int | None = None
    language: Literal["en", "pt"] | None = None


class CreateSessionResponse(BaseModel):
    session_id: str
    created_at: str


class WordResultModel(BaseModel):
    expected: str
    heard: str
    score: float
    error: str | None
    error_type: str | None
    expected_phones: str
    heard_phones: str
    start: float
    end: float
    tip_en: str
    tip_pt: str


class PronunciationModel(BaseModel):
    overall_score: float
    words: list[WordResultModel]


class AudioAvailable(BaseModel):
    coaching: bool
    conversational: bool


class ProcessResponse(BaseModel):
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
    pronunciation: PronunciationModel | None = Field(
        description="Per-word results; null for a text-only turn or when scoring failed."
    )
    audio_available: AudioAvailable
    degraded: list[str] = Field(
        description='Stages that failed and were skipped: "stt", "scoring", "translation", "tts", "llm".'
    )
    timings_ms: dict[str, int] = Field(
        description="Milliseconds per stage (stt, scoring, coaching, translation, tts) and total."
    )


class HistoryItem(BaseModel):
    user: str
    conversational: str
    coaching: str
    timestamp: str
    turn_id: str
    score: float | None
    target_text: str | None
    coaching_portuguese: str | None
    conversational_portuguese: str | None


class HistoryResponse(BaseModel):
    session_id: str
    history: list[HistoryItem]


class DeleteResponse(BaseModel):
    session_id: str
    deleted: bool


class PracticeItemModel(BaseModel):
    id: str
    text: str
    focus: str
    hint_en: str
    hint_pt: str


class StatusResponse(BaseModel):
    status: str
    version: str
    engines: dict[str, str]
    uptime_seconds: float


class BotMetricRequest(BaseModel):
    event: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    value: float = 1.0
    labels: dict[str, str] = Field(default_factory=dict, max_length=8)


class AcceptedResponse(BaseModel):
    accepted: bool = True


class HealthResponse(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
