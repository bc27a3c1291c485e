"""The Bot API over HTTP, as any bot library would call it, against the real emulator process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from phonicflow_emulator.testing import EmulatorHandle, png, running_emulator

LONG_POLL = 5  # seconds a getUpdates may wait in these tests


# One connection pool for the module: a fresh httpx client per call costs ~50 ms of TLS set-up.
_http = httpx.Client(timeout=LONG_POLL + 10)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    _http.close()


def call(
    emulator: EmulatorHandle, method: str, token: str | None = None, **params: Any
) -> httpx.Response:
    """Form-encoded, JSON values as strings: what python-telegram-bot sends."""
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    url = f"{emulator.api_base_url}{token or emulator.token}/{method}"
    return _http.post(url, data=data)


def ok(emulator: EmulatorHandle, method: str, **params: Any) -> Any:
    answer = call(emulator, method, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def error(emulator: EmulatorHandle, method: str, **params: Any) -> tuple[int, str]:
    answer = call(emulator, method, **params)
    body = answer.json()
    assert body["ok"] is False and body["error_code"] == answer.status_code
    return answer.status_code, body["description"]


async def test_long_polling_wakes_as_soon_as_a_learner_writes(emulator: EmulatorHandle) -> None:
    emulator.client.user(1001, first_name="Ana")
    url = f"{emulator.api_base_url}{emulator.token}/getUpdates"
    async with httpx.AsyncClient(timeout=30) as http:
        started = time.monotonic()
        poll = asyncio.create_task(http.post(url, data={"timeout": "20"}))
        await asyncio.sleep(0.5)
        assert not poll.done(), "getUpdates answered before anything happened"
        await asyncio.to_thread(emulator.client.user(1001).send_text, "oi")
        answer = (await poll).json()
        elapsed = time.monotonic() - started
    assert [u["message"]["text"] for u in answer["result"]] == ["oi"]
    assert elapsed < 3, (
        f"the long poll took {elapsed:.1f}s: it must wake on the update, not the timeout"
    )


def test_an_empty_long_poll_waits_for_its_timeout(emulator: EmulatorHandle) -> None:
    started = time.monotonic()
    assert ok(emulator, "getUpdates", timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 3


def test_confirmed_updates_are_never_delivered_again(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    for text in ("one", "two", "three"):
        ana.send_text(text)
    first = ok(emulator, "getUpdates", limit=2)
    assert [u["message"]["text"] for u in first] == ["one", "two"]
    assert first[1]["update_id"] == first[0]["update_id"] + 1
    again = ok(emulator, "getUpdates")  # nothing confirmed yet: everything is still there
    assert [u["message"]["text"] for u in again] == ["one", "two", "three"]
    rest = ok(emulator, "getUpdates", offset=first[1]["update_id"] + 1)
    assert [u["message"]["text"] for u in rest] == ["three"]
    assert ok(emulator, "getUpdates", offset=rest[0]["update_id"] + 1, timeout=0) == []
    assert ok(emulator, "getWebhookInfo")["pending_update_count"] == 0


def test_allowed_updates_filters_what_the_bot_receives(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    sent = ok(
        emulator,
        "sendMessage",
        chat_id=1001,
        text="Pick",
        reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
    )
    ana.send_text("hello")
    ana.press_button(sent["message_id"], "a")
    updates = ok(emulator, "getUpdates", allowed_updates=["callback_query"])
    assert [next(k for k in u if k != "update_id") for u in updates] == ["callback_query"]


def test_a_second_poller_ends_the_first_with_conflict(emulator: EmulatorHandle) -> None:
    async def scenario() -> tuple[int, int]:
        url = f"{emulator.api_base_url}{emulator.token}/getUpdates"
        async with httpx.AsyncClient(timeout=30) as http:
            first = asyncio.create_task(http.post(url, data={"timeout": "10"}))
            await asyncio.sleep(0.3)
            second = asyncio.create_task(http.post(url, data={"timeout": "1"}))
            first_answer = await first
            second_answer = await second
            return first_answer.status_code, second_answer.status_code

    first_status, second_status = asyncio.run(scenario())
    assert (first_status, second_status) == (409, 200)


def test_wrong_tokens_and_unknown_methods_are_refused(emulator: EmulatorHandle) -> None:
    answer = call(emulator, "getMe", token="123456789:wrong")
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    status, description = error(emulator, "sendPigeon", chat_id=1)
    assert status == 404 and description.startswith("Not Found: method sendPigeon")
    assert httpx.get(f"{emulator.file_base_url}123:wrong/voice/file_0.oga").status_code == 401
    assert [c["method"] for c in emulator.client.calls()] == ["sendPigeon"]


def test_methods_accept_json_bodies_and_any_case(emulator: EmulatorHandle) -> None:
    emulator.client.user(1001, first_name="Ana")
    url = f"{emulator.api_base_url}{emulator.token}/SENDMESSAGE"
    answer = httpx.post(url, json={"chat_id": 1001, "text": "json body"}).json()
    assert answer["ok"] and answer["result"]["text"] == "json body"
    assert emulator.client.calls("sendMessage")[0]["params"] == {
        "chat_id": 1001,
        "text": "json body",
    }


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"chat_id": 999, "text": "hi"}, "Bad Request: chat not found"),
        ({"chat_id": 1001, "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": 1001, "text": "x" * 4097}, "Bad Request: message is too long"),
        (
            {"chat_id": 1001, "text": "<b>bold <i>both</b></i>", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unmatched end tag at byte offset 15, expected "</i>", found "</b>"',
        ),
        (
            {"chat_id": 1001, "text": "<blink>hi</blink>", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unsupported start tag "blink" at byte offset 0',
        ),
        (
            {"chat_id": 1001, "text": "Score: 9.5!", "parse_mode": "MarkdownV2"},
            "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'",
        ),
        (
            {"chat_id": 1001, "text": "*bold", "parse_mode": "MarkdownV2"},
            "Bad Request: can't parse entities: Can't find end of Bold entity at byte offset 0",
        ),
        (
            {
                "chat_id": 1001,
                "text": "hi",
                "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 65}]]},
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"chat_id": 1001, "text": "hi", "reply_markup": "{not json"},
            "Bad Request: can't parse reply keyboard markup JSON object",
        ),
        (
            {"chat_id": 1001, "text": "hi", "reply_to_message_id": 77},
            "Bad Request: message to be replied not found",
        ),
    ],
    ids=[
        "unknown-chat",
        "empty",
        "too-long",
        "html-unmatched",
        "html-unsupported",
        "mdv2-reserved",
        "mdv2-unclosed",
        "callback-data",
        "markup-json",
        "reply-missing",
    ],
)
def test_bad_messages_get_telegrams_400(
    emulator: EmulatorHandle, params: dict[str, Any], description: str
) -> None:
    emulator.client.user(1001, first_name="Ana")
    assert error(emulator, "sendMessage", **params) == (400, description)
    assert emulator.client.user(1001).messages() == [], "a refused message must not be delivered"


def test_longest_allowed_message_and_callback_data_pass(emulator: EmulatorHandle) -> None:
    emulator.client.user(1001, first_name="Ana")
    text = "é" * 4096
    markup = {"inline_keyboard": [[{"text": "ok", "callback_data": "d" * 64}]]}
    assert ok(emulator, "sendMessage", chat_id=1001, text=text, reply_markup=markup)["text"] == text


def test_edits_return_the_message_and_refuse_no_ops(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    markup = {"inline_keyboard": [[{"text": "Retry", "callback_data": "retry"}]]}
    sent = ok(emulator, "sendMessage", chat_id=1001, text="Scoring…", reply_markup=markup)
    edited = ok(
        emulator,
        "editMessageText",
        chat_id=1001,
        message_id=sent["message_id"],
        text="<b>92</b>/100",
        parse_mode="HTML",
        reply_markup=markup,
    )
    assert edited["text"] == "92/100" and edited["edit_date"] >= sent["date"]
    assert edited["reply_markup"] == markup
    status, description = error(
        emulator,
        "editMessageText",
        chat_id=1001,
        message_id=sent["message_id"],
        text="<b>92</b>/100",
        parse_mode="HTML",
        reply_markup=markup,
    )
    assert status == 400 and description.startswith("Bad Request: message is not modified")
    bare = ok(emulator, "editMessageReplyMarkup", chat_id=1001, message_id=sent["message_id"])
    assert "reply_markup" not in bare
    assert error(emulator, "editMessageReplyMarkup", chat_id=1001, message_id=sent["message_id"])[
        1
    ].startswith("Bad Request: message is not modified")
    mine = ana.send_text("my own words")
    assert error(
        emulator, "editMessageText", chat_id=1001, message_id=mine["message_id"], text="x"
    ) == (400, "Bad Request: message can't be edited")
    assert error(emulator, "editMessageText", chat_id=1001, message_id=999, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    assert ana.messages()[0]["text"] == "92/100"
    assert ok(emulator, "deleteMessage", chat_id=1001, message_id=sent["message_id"]) is True
    assert ana.messages() == []
    assert error(emulator, "deleteMessage", chat_id=1001, message_id=sent["message_id"]) == (
        400,
        "Bad Request: message to delete not found",
    )


def test_callback_queries_are_answered_once(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    sent = ok(
        emulator,
        "sendMessage",
        chat_id=1001,
        text="Again?",
        reply_markup={"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]},
    )
    query = ana.press_button(sent["message_id"], "yes")
    assert query["message"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"
    assert (
        ok(emulator, "answerCallbackQuery", callback_query_id=query["id"], text="Recording…")
        is True
    )
    status, description = error(emulator, "answerCallbackQuery", callback_query_id=query["id"])
    assert status == 400 and "query ID is invalid" in description
    assert [a["text"] for a in ana.callback_answers()] == ["Recording…"]


def test_a_button_that_does_not_exist_cannot_be_pressed(emulator: EmulatorHandle) -> None:
    from phonicflow_emulator.client import EmulatorError

    ana = emulator.client.user(1001, first_name="Ana")
    sent = ok(
        emulator,
        "sendMessage",
        chat_id=1001,
        text="Again?",
        reply_markup={"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]},
    )
    with pytest.raises(EmulatorError, match="no button with callback_data 'no'"):
        ana.press_button(sent["message_id"], "no")


def test_chat_actions_are_recorded_and_validated(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    assert ok(emulator, "sendChatAction", chat_id=1001, action="typing") is True
    assert ok(emulator, "sendChatAction", chat_id=1001, action="record_voice") is True
    assert error(emulator, "sendChatAction", chat_id=1001, action="dancing") == (
        400,
        "Bad Request: wrong parameter action in request",
    )
    assert ana.chat_actions() == ["typing", "record_voice"]


def test_learner_media_reaches_the_bot_with_telegrams_metadata(
    emulator: EmulatorHandle, voice_note: bytes
) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    ana.send_voice(voice_note)  # no duration given: worked out from the audio, as Telegram does
    ana.send_audio(b"ID3fake-mp3", duration=12, file_name="lesson.mp3", title="Lesson 1")
    ana.send_video_note(b"fake-mp4", duration=4)
    ana.send_document(b"%PDF-1.4", file_name="notes.pdf", mime_type="application/pdf")
    updates = ok(emulator, "getUpdates")
    voice = updates[0]["message"]["voice"]
    assert voice["mime_type"] == "audio/ogg" and voice["file_size"] == len(voice_note)
    assert 1 <= voice["duration"] <= 4
    audio = updates[1]["message"]["audio"]
    assert (audio["duration"], audio["file_name"], audio["title"], audio["mime_type"]) == (
        12,
        "lesson.mp3",
        "Lesson 1",
        "audio/mpeg",
    )
    note = updates[2]["message"]["video_note"]
    assert (note["duration"], note["length"]) == (4, 240) and "mime_type" not in note
    document = updates[3]["message"]["document"]
    assert (document["file_name"], document["mime_type"], document["file_size"]) == (
        "notes.pdf",
        "application/pdf",
        8,
    )
    for update, expected in zip(
        updates, [voice_note, b"ID3fake-mp3", b"fake-mp4", b"%PDF-1.4"], strict=True
    ):
        media = next(
            v
            for k, v in update["message"].items()
            if k in ("voice", "audio", "video_note", "document")
        )
        info = ok(emulator, "getFile", file_id=media["file_id"])
        assert info["file_unique_id"] == media["file_unique_id"] and info["file_size"] == len(
            expected
        )
        download = httpx.get(f"{emulator.file_base_url}{emulator.token}/{info['file_path']}")
        assert download.status_code == 200 and download.content == expected


def test_files_over_20_mb_cannot_be_fetched_by_the_bot(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    big = ana.send_document(
        b"\0" * (20 * 1024 * 1024 + 1), file_name="huge.wav", mime_type="audio/wav"
    )
    assert error(emulator, "getFile", file_id=big["document"]["file_id"]) == (
        400,
        "Bad Request: file is too big",
    )
    assert error(emulator, "getFile", file_id="nonsense") == (400, "Bad Request: invalid file_id")


def test_bot_uploads_can_be_resent_by_file_id(emulator: EmulatorHandle) -> None:
    emulator.client.user(1001, first_name="Ana")
    upload = httpx.post(
        f"{emulator.api_base_url}{emulator.token}/sendAudio",
        data={"chat_id": "1001", "duration": "3", "title": "Coaching"},
        files={"audio": ("coach.mp3", b"ID3coach", "audio/mpeg")},
    ).json()["result"]
    assert upload["audio"]["title"] == "Coaching" and upload["audio"]["file_name"] == "coach.mp3"
    document = httpx.post(
        f"{emulator.api_base_url}{emulator.token}/sendDocument",
        data={"chat_id": "1001", "document": "attach://report"},
        files={"report": ("report.txt", b"scores", "text/plain")},
    ).json()["result"]
    assert document["document"]["file_name"] == "report.txt"
    assert emulator.client.download(document["document"]["file_id"]) == b"scores"
    resent = ok(emulator, "sendAudio", chat_id=1001, audio=upload["audio"]["file_id"])
    assert resent["audio"]["file_id"] == upload["audio"]["file_id"]
    assert error(emulator, "sendVoice", chat_id=1001, voice="no-such-file") == (
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )


def test_photos_are_stored_with_their_size_and_caption(emulator: EmulatorHandle) -> None:
    emulator.client.user(1001, first_name="Ana")
    picture = png(80, 60)
    sent = _http.post(
        f"{emulator.api_base_url}{emulator.token}/sendPhoto",
        data={"chat_id": "1001", "caption": "<b>Streak</b>: 3 days", "parse_mode": "HTML"},
        files={"photo": ("progress.png", picture, "image/png")},
    ).json()["result"]
    (size,) = sent["photo"]
    assert (size["width"], size["height"], size["file_size"]) == (80, 60, len(picture))
    assert sent["caption"] == "Streak: 3 days"
    assert sent["caption_entities"] == [{"type": "bold", "offset": 0, "length": 6}]
    assert emulator.client.download(size["file_id"]) == picture
    resent = ok(emulator, "sendPhoto", chat_id=1001, photo=size["file_id"])
    assert resent["photo"][0]["file_id"] == size["file_id"]
    assert [c["method"] for c in emulator.client.calls("sendPhoto")] == ["sendPhoto"] * 2
    refused = _http.post(
        f"{emulator.api_base_url}{emulator.token}/sendPhoto",
        data={"chat_id": "1001"},
        files={"photo": ("notes.txt", b"not a picture", "text/plain")},
    ).json()
    assert (refused["error_code"], refused["description"]) == (
        400,
        "Bad Request: IMAGE_PROCESS_FAILED",
    )


def test_commands_webhook_and_session_methods(emulator: EmulatorHandle) -> None:
    commands = [
        {"command": "start", "description": "Begin"},
        {"command": "help", "description": "How it works"},
    ]
    assert ok(emulator, "setMyCommands", commands=commands) is True
    assert ok(emulator, "getMyCommands") == commands
    assert ok(emulator, "getMyCommands", language_code="pt") == []
    assert error(
        emulator, "setMyCommands", commands=[{"command": "Start!", "description": "x"}]
    ) == (400, "Bad Request: BOT_COMMAND_INVALID")
    assert ok(emulator, "setWebhook", url="https://example.org/hook") is True
    status, description = error(emulator, "getUpdates")
    assert status == 409 and "webhook is active" in description
    assert ok(emulator, "deleteWebhook", drop_pending_updates=True) is True
    assert ok(emulator, "getWebhookInfo") == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }
    assert ok(emulator, "getMe")["is_bot"] is True
    assert ok(emulator, "close") is True and ok(emulator, "logOut") is True


def test_injected_faults_hit_exactly_n_calls(emulator: EmulatorHandle) -> None:
    emulator.client.user(1001, first_name="Ana")
    emulator.client.inject_fault("getMe", status=502, times=2)
    assert call(emulator, "getMe").status_code == 502
    assert call(emulator, "getMe").status_code == 502
    assert call(emulator, "getMe").status_code == 200
    emulator.client.inject_fault("sendMessage", delay=1.0)
    started = time.monotonic()
    assert ok(emulator, "sendMessage", chat_id=1001, text="slow")["text"] == "slow"
    assert time.monotonic() - started >= 1.0
    emulator.client.inject_fault("sendMessage", drop_connection=True)
    with pytest.raises(httpx.RemoteProtocolError):
        call(emulator, "sendMessage", chat_id=1001, text="lost")
    assert emulator.client.faults() == []
    statuses = [c.get("status") for c in emulator.client.calls()]
    assert statuses == [502, 502, 200, 200, None]


def test_flood_control_answers_429_with_retry_after_when_switched_on() -> None:
    with running_emulator(env={"EMULATOR_FLOOD_CONTROL": "true"}) as emulator:
        emulator.client.user(1001, first_name="Ana")
        statuses = [
            call(emulator, "sendMessage", chat_id=1001, text=f"#{i}").status_code for i in range(5)
        ]
        assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
        body = call(emulator, "sendMessage", chat_id=1001, text="again").json()
        assert body["parameters"]["retry_after"] >= 1
        assert body["description"].startswith("Too Many Requests: retry after")


GARBAGE: list[dict[str, Any]] = [
    {},
    {"chat_id": "not-a-number", "message_id": "x", "text": "hi"},
    {
        "chat_id": 1001,
        "message_id": 1,
        "text": "<b>",
        "parse_mode": "HTML",
        "reply_markup": "[1, 2]",
    },
    {"chat_id": 1001, "reply_markup": {"inline_keyboard": "nope"}, "text": "x", "entities": "{"},
    {"chat_id": 1001, "voice": "attach://missing", "audio": 5, "document": "", "limit": "many"},
    {"chat_id": 1001, "commands": {"a": 1}, "scope": "[", "offset": "x", "timeout": "soon"},
    {
        "chat_id": 1001,
        "callback_query_id": 12,
        "file_id": None,
        "action": 3,
        "allowed_updates": "{}",
    },
    {"chat_id": 1001, "text": "x", "reply_parameters": {"message_id": "abc"}, "duration": "long"},
]


@pytest.mark.parametrize("params", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_parameters_get_telegram_errors_never_a_crash(
    emulator: EmulatorHandle, params: dict[str, Any]
) -> None:
    from phonicflow_emulator.botapi import CANONICAL_NAMES

    emulator.client.user(1001, first_name="Ana")
    for method in CANONICAL_NAMES.values():
        if method in ("close", "logOut", "setWebhook"):
            continue
        answer = call(emulator, method, **{"timeout": 0, **params})
        assert answer.status_code < 500, (method, params, answer.text)
        body = answer.json()
        assert body["ok"] is (answer.status_code == 200), (method, body)
    assert "Traceback" not in emulator.logs()
    bad_multipart = httpx.post(
        f"{emulator.api_base_url}{emulator.token}/sendVoice",
        content=b"--x\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert bad_multipart.status_code == 400


def test_replies_quote_the_learners_message(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    question = ana.send_text("How do I say 'think'?")
    reply = ok(
        emulator,
        "sendMessage",
        chat_id=1001,
        text="Like this",
        reply_parameters={"message_id": question["message_id"]},
    )
    assert reply["reply_to_message"]["text"] == "How do I say 'think'?"
    legacy = ok(
        emulator,
        "sendMessage",
        chat_id=1001,
        text="Again",
        reply_to_message_id=question["message_id"],
    )
    assert legacy["reply_to_message"]["message_id"] == question["message_id"]
    lenient = ok(
        emulator,
        "sendMessage",
        chat_id=1001,
        text="Gone",
        reply_parameters={"message_id": 999, "allow_sending_without_reply": True},
    )
    assert "reply_to_message" not in lenient
    assert reply["message_id"] > question["message_id"], (
        "one message_id sequence per chat, as in Telegram"
    )
