"""The bot's parts on their own: settings, texts, formatting, the rate limiter and session
store against real Redis (the limiter from two processes at once, as two replicas would)."""

from __future__ import annotations

import asyncio
import json
import re
import string
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import ValidationError
from redis.asyncio import Redis

from phonicflow_bot import i18n
from phonicflow_bot.clients.backend import BackendRejected, BackendTimeout, BackendUnavailable
from phonicflow_bot.clients.converter import AudioRejected
from phonicflow_bot.clients.sessions import MemorySessionStore, RedisSessionStore, Session
from phonicflow_bot.config import BotSettings
from phonicflow_bot.formatting import MAX_MESSAGE_CHARS, format_feedback, format_history, truncate
from phonicflow_bot.handlers.common import failure_text_key
from phonicflow_bot.handlers.message_handler import asked_focus
from phonicflow_bot.rate_limit import (
    MemoryPressDebounce,
    MemoryRateLimiter,
    PressDebounce,
    RedisPressDebounce,
    RedisRateLimiter,
)
from phonicflow_common.contract import MAX_AUDIO_SECONDS, HistoryItem, ProcessResponse

# built in two parts so the repository holds no token-shaped literal
TOKEN = "123456789:" + "AAF-test-token-for-settings-000000000"


def test_settings_defaults_follow_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = BotSettings()
    assert settings.backend_url == "http://localhost:8000"
    assert settings.converter_address == "localhost:50051"
    assert settings.bot_rate_limit_mpm == 30
    assert settings.session_timeout_hours == 24
    assert settings.max_audio_size_bytes == 20 * 1024 * 1024
    # What the backend scores, no more: a longer note is refused in the chat at once.
    assert settings.max_audio_duration_seconds == MAX_AUDIO_SECONDS == 60
    assert settings.bot_health_port == 8080
    # The seed's 1 s pause after every getUpdates delayed each message of a busy bot.
    assert settings.bot_polling_interval == 0
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert TOKEN not in repr(settings)


def test_the_token_can_come_from_a_file_and_is_required_when_polling(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="telegram_bot_token"):
        BotSettings()
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", str(secret))
    assert BotSettings().telegram_bot_token.get_secret_value() == TOKEN
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN_FILE")
    monkeypatch.setenv("TELEGRAM_BOT_ENABLED", "false")
    assert BotSettings().telegram_bot_enabled is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [("BACKEND_URL", "localhost:8000"), ("SESSION_TIMEOUT_HOURS", "0"),
     ("BOT_RATE_LIMIT_MPM", "-1"), ("LOG_LEVEL", "LOUD"), ("BOT_HEALTH_PORT", "70000"),
     ("MAX_AUDIO_DURATION_SECONDS", "120")],
)  # fmt: skip
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        BotSettings()


def test_every_text_exists_in_english_and_portuguese_with_the_same_placeholders() -> None:
    for key in i18n.text_keys():
        variants = i18n.variants(key)
        assert set(variants) == {"en", "pt"}, key
        fields = [{f for _, f, _, _ in string.Formatter().parse(v) if f} for v in variants.values()]
        assert fields[0] == fields[1], key
        assert variants["en"] != variants["pt"] or key.startswith("btn_"), key
    assert all(set(d) == {"en", "pt"} for d in i18n.COMMANDS.values())


def test_portuguese_is_detected_from_any_pt_language_code() -> None:
    assert i18n.detect_language("pt-br") == "pt"
    assert i18n.detect_language("pt") == "pt"
    assert i18n.detect_language("en-US") == "en"
    assert i18n.detect_language(None) == "en"


def word(expected: str, heard: str, score: float, error: str | None) -> dict[str, Any]:
    return {"expected": expected, "heard": heard, "score": score, "error": error,
            "error_type": None, "expected_phones": "", "heard_phones": "", "start": 0.0,
            "end": 0.0, "tip_en": "", "tip_pt": ""}  # fmt: skip


def test_feedback_escapes_learner_text_and_reads_at_a_glance() -> None:
    result = ProcessResponse.model_validate(
        {
            "session_id": "s",
            "turn_id": "t",
            "user_transcript": "<script>alert(1)</script> & 🌳",
            "coaching_feedback": "Say <b>th</b>",
            "coaching_feedback_portuguese": "Diga th",
            "conversational_response": "ok",
            "conversational_response_portuguese": "",
            "coaching_audio_path": None,
            "conversational_audio_path": None,
            "target_text": None,
            "audio_available": {"coaching": False, "conversational": False},
            "degraded": [],
            "timings_ms": {},
            "pronunciation": {
                "overall_score": 71.6,
                "words": [
                    word("think", "tink", 30, "th_to_t"),
                    word("trees", "trees", 95, None),
                    word("are", "", 0, "omitted"),
                    word("x<y", "x", 20, "brand_new_slug"),
                    word("this", "this", 40, "th_to_z"),
                    word("the", "the", 30, None),
                    word("for", "for", 60, None),
                    {**word("Zorgle", "", 0, None), "scored": False},
                ],
            },
        }
    )
    html = format_feedback(result, "en")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 🌳" in html
    assert "Say &lt;b&gt;th&lt;/b&gt;" in html
    assert "⚠️ “think” → heard “tink” (TH sounded like T)" in html
    assert "✅ trees" in html and "✅ for" in html
    assert "❌ “are” — not heard (word missing)" in html
    assert "“x&lt;y” → heard “x” (didn't sound right)" in html  # a newer backend's slug
    assert "⚠️ “this” — TH sounded like Z" in html  # heard as written: the reason alone
    assert "⚠️ “the” — not clear" in html
    assert "➖ “Zorgle” — couldn't check this one" in html
    assert "Score:</b> 72/100" in html
    for line in html.splitlines():
        if line.startswith(("⚠️", "❌")):
            assert "(" in line or " — " in line, f"a verdict without its reason: {line}"
    pt = format_feedback(result, "pt")
    assert "⚠️ “this” — TH saiu como Z" in pt and "(TH saiu como T)" in pt
    assert "th to z" not in pt and "th_to_z" not in pt
    assert pt.index("Diga th") < pt.index("Say &lt;b&gt;")  # learner's language first


def test_a_note_that_was_not_the_drill_shows_what_was_heard_and_the_sentence_again() -> None:
    result = ProcessResponse.model_validate(
        {
            "session_id": "s", "turn_id": "t", "user_transcript": "i think three <trees>",
            "coaching_feedback": "That didn't sound like the sentence.",
            "coaching_feedback_portuguese": "Não pareceu a frase.",
            "conversational_response": "", "conversational_response_portuguese": "",
            "coaching_audio_path": None, "conversational_audio_path": None,
            "target_text": "Thank you for the things you brought", "pronunciation": None,
            "audio_available": {"coaching": False, "conversational": False},
            "degraded": [], "timings_ms": {}, "drill_match": "different_sentence",
        }
    )  # fmt: skip
    pt = format_feedback(result, "pt")
    assert "Eu ouvi:</b> i think three &lt;trees&gt;" in pt
    assert "Não pareceu a frase do exercício" in pt
    assert "<b>Frase:</b> Thank you for the things you brought" in pt
    assert "Nota" not in pt and "Palavra por palavra" not in pt
    en = format_feedback(result, "en")
    assert "didn't sound like the practice sentence" in en and "Target:</b> Thank you" in en


def test_long_messages_are_cut_on_a_line_boundary() -> None:
    long = "\n".join(f"<b>{n}</b> " + "x" * 90 for n in range(100))
    cut = truncate(long)
    assert len(cut) <= MAX_MESSAGE_CHARS
    assert cut.count("<b>") == cut.count("</b>")
    assert cut.endswith("…")


def test_history_shows_the_most_recent_turn_first() -> None:
    turns = [
        HistoryItem(
            user=f"turn {n}",
            conversational="",
            coaching="",
            turn_id=str(n),
            timestamp="2026-01-01T10:00:00",
            score=None,
            target_text=None,
            coaching_portuguese=None,
            conversational_portuguese=None,
        )
        for n in range(12)
    ]
    page, pages = format_history(turns, 0, "en")
    assert pages == 3
    assert page.index("turn 11") < page.index("turn 7")
    last, _ = format_history(turns, 2, "en")
    assert "turn 0" in last and "turn 2" not in last


async def test_memory_rate_limit_refuses_over_the_limit_and_notifies_once() -> None:
    limiter = MemoryRateLimiter(limit=3)
    decisions = [await limiter.hit(7) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False, False]
    assert [d.notify for d in decisions[3:]] == [True, False, False]
    assert 1 <= decisions[3].retry_after <= 60
    assert (await limiter.hit(8)).allowed, "limits are per learner"
    await limiter.reset(7)
    assert (await limiter.hit(7)).allowed


_HAMMER = textwrap.dedent(
    """
    import asyncio, json, sys
    from redis.asyncio import Redis
    from phonicflow_bot.rate_limit import RedisRateLimiter

    async def main():
        redis = Redis.from_url(sys.argv[1])
        limiter = RedisRateLimiter(redis, limit=30)
        decisions = await asyncio.gather(*(limiter.hit(42) for _ in range(25)))
        print(json.dumps({"allowed": sum(d.allowed for d in decisions),
                          "notified": sum(d.notify for d in decisions)}))
        await redis.aclose()

    asyncio.run(main())
    """
)


def test_redis_rate_limit_holds_across_two_replicas(redis_url: str) -> None:
    """Two bot processes share Redis; together they let exactly the limit through.

    Two pollers cannot share one Telegram token, so replicas are modelled as two processes
    using the limiter on the same Redis at the same time.
    """
    procs = [
        subprocess.Popen([sys.executable, "-c", _HAMMER, redis_url], stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(r["allowed"] for r in results) == 30
    assert sum(r["notified"] for r in results) == 1
    ttl = redis.Redis.from_url(redis_url).ttl("phonicflow:ratelimit:42")
    assert 0 < ttl <= 60


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_burst_of_presses_on_one_button_is_one_press(redis_url: str, kind: str) -> None:
    client = Redis.from_url(redis_url)
    debounce: PressDebounce = (
        MemoryPressDebounce(window=1) if kind == "memory" else RedisPressDebounce(client, window=1)
    )
    chat = 501 if kind == "memory" else 502
    presses = [await debounce.first(chat, 10, "r:turn") for _ in range(8)]
    assert presses == [True] + [False] * 7
    assert await debounce.first(chat, 10, "t:turn"), "another button is its own press"
    assert await debounce.first(chat, 11, "r:turn"), "so is the same button on another message"
    await debounce.hold(chat, 10, "r:turn")
    assert not await debounce.first(chat, 10, "r:turn")
    if kind == "redis":
        assert 0 < await client.ttl(f"phonicflow:press:{chat}:10:r:turn") <= 1
    await asyncio.sleep(1.1)
    assert await debounce.first(chat, 10, "r:turn"), "a press after the window counts again"
    await client.aclose()


async def test_redis_rate_limit_refuses_cleanly_at_the_last_moment_of_a_window(
    redis_url: str,
) -> None:
    """Redis reports a key's last half second as TTL 0; the refusal notice must not become
    ``SET ... EX 0`` (an error). A one-second window (the reminders' budget) hits it at once."""
    limiter = RedisRateLimiter(Redis.from_url(redis_url), limit=1, window=1)
    deadline = time.monotonic() + 2.5
    refused = 0
    while time.monotonic() < deadline:
        decision = await limiter.hit(777)
        refused += not decision.allowed
        assert decision.allowed or decision.retry_after >= 1
        await asyncio.sleep(0.01)
    assert refused > 100


async def test_redis_sessions_use_one_documented_key_with_string_json(redis_url: str) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    store = RedisSessionStore(client, ttl_seconds=3600)
    session = Session(user_id=99, session_id="abc", created_at=1.0, last_activity=2.0,
                      language="pt", practice_target={"id": "th-01", "text": "I think"})  # fmt: skip
    await store.put(session)
    raw = await client.get("phonicflow:session:99")
    assert json.loads(raw)["session_id"] == "abc"
    assert 3590 < await client.ttl("phonicflow:session:99") <= 3600
    loaded = await store.get(99)
    assert loaded == session
    assert await store.count_active(since=0) == 1
    await store.delete(99)
    assert await store.get(99) is None
    assert await client.zscore("phonicflow:active", "99") is None
    await client.aclose()


async def test_memory_sessions_behave_like_redis_ones() -> None:
    store = MemorySessionStore()
    session = Session(user_id=5, session_id="s", created_at=1.0, last_activity=100.0)
    await store.put(session)
    assert await store.get(5) == session
    assert await store.count_active(since=50) == 1
    assert await store.count_active(since=150) == 0
    await store.delete(5)
    assert await store.get(5) is None


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (AudioRejected("converter answered INVALID_ARGUMENT: not audio"), "bad_audio"),
        (BackendRejected("backend answered 415", 415, "unsupported_audio"), "bad_audio"),
        (BackendRejected("backend answered 422", 422, "idempotency_key_reused"), "service_down"),
        (BackendRejected("backend answered 413", 413, "audio_too_long"), "too_long_to_score"),
        (BackendTimeout("backend timed out"), "service_slow"),
        (BackendUnavailable("backend unreachable"), "service_down"),
    ],
)
def test_each_failure_gets_the_message_that_fits_it(error: Exception, key: str) -> None:
    assert failure_text_key(error)[0] == key


@pytest.mark.parametrize(
    ("said", "focus"),
    [("help with th", "th"), ("can you help me with the th sound?", "th"),
     ("quero treinar o th", "th"), ("me ajuda com o h", "h_r"), ("Help me with H/R!", "h_r"),
     ("practice i/ɪ", "i_ih"), ("I want to practise the final s", "final_s_ed"),
     ("help with -ed please", "final_s_ed"), ("quero praticar a vogal extra", "vowel_insertion"),
     ("I think three trees are there", None), ("I want to practice my English", None),
     ("the th in think is hard", None),
     ("help " + "and so on " * 10 + "th", None)],
)  # fmt: skip
def test_a_request_for_a_drill_is_recognised_and_conversation_is_not(
    said: str, focus: str | None
) -> None:
    assert asked_focus(said) == focus


def test_portuguese_reads_as_a_native_speaker_writes_it() -> None:
    """The corrections of issue 14, and one register (você + "Mande", "Tente")."""
    assert i18n.text("pt", "delete_confirm").startswith("⚠️ Isso vai apagar sua sessão")
    assert i18n.text("pt", "try_again_free") == "🔁 Pode mandar outro áudio!"
    assert "mensagem de vídeo (a bolinha)" in i18n.text("pt", "help")
    assert "mensagens de vídeo (a bolinha)" in i18n.text("pt", "unsupported")
    portuguese = " ".join(i18n.variants(key)["pt"] for key in i18n.text_keys())
    for translated in ("Isto apaga", "Vá em frente", "vídeo redondo", "vídeos redondos"):
        assert translated not in portuguese
    assert not re.search(r"\b(Coloca|Tenta|Manda|Grava|Escuta|Fala|Envia)\b", portuguese)
