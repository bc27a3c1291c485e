"""The shared logging setup: JSON lines, and no bot token in any of them."""

from __future__ import annotations

import json
import logging

import pytest

from phonicflow_common.logging import configure_logging, redact, register_secret

# built in two parts so the repository never holds a token-shaped literal
TOKEN = "123456789:" + "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX"


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_token_in_a_url_logged_by_a_library_is_redacted(capsys):
    configure_logging("test", level="DEBUG")
    logging.getLogger("httpx").info(
        "HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN
    )
    line = capsys.readouterr().err.strip()
    event = json.loads(line)
    assert TOKEN not in line
    assert "bot[REDACTED]/getMe" in event["message"]
    assert event["level"] == "info" and event["service"] == "test"


def test_a_registered_secret_is_redacted_from_tracebacks_and_extra_fields(capsys):
    configure_logging("test")
    register_secret("s3cret-bot-key-value")
    try:
        raise RuntimeError("backend refused key s3cret-bot-key-value")
    except RuntimeError:
        logging.getLogger("x").exception(
            "failed", extra={"header": "X-Bot-Key: s3cret-bot-key-value"}
        )
    out = capsys.readouterr().err
    assert "s3cret-bot-key-value" not in out
    event = json.loads(out.strip().splitlines()[-1])
    assert "RuntimeError" in event["exception"]
    assert event["header"] == "X-Bot-Key: [REDACTED]"


def test_a_percent_encoded_token_in_a_download_url_is_redacted():
    encoded = TOKEN.replace(":", "%3A")
    assert (
        redact(f"GET /file/bot{encoded}/voice/file_1.oga")
        == "GET /file/bot[REDACTED]/voice/file_1.oga"
    )


def test_redact_leaves_ordinary_text_alone():
    assert redact("learner 12345 said: I tink so") == "learner 12345 said: I tink so"


def test_log_file_receives_the_same_lines(tmp_path):
    path = tmp_path / "logs" / "bot.log"
    configure_logging("bot", log_file=path)
    logging.getLogger("a").warning("token %s leaked?", TOKEN)
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    assert "leaked?" in text and TOKEN not in text
