"""Settings: environment first, secrets from *_FILE, and a start-up error naming the variable."""

from __future__ import annotations

import pytest
from pydantic import Field

from phonicflow_common.settings import ServiceSettings, load_settings


class ExampleSettings(ServiceSettings):
    telegram_bot_token: str = ""
    backend_timeout: float = Field(default=30.0, gt=0)


def test_secret_is_read_from_the_file_named_by_NAME_FILE(tmp_path, monkeypatch):
    secret = tmp_path / "token"
    secret.write_text("42:from-a-file\n")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", str(secret))
    assert load_settings(ExampleSettings).telegram_bot_token == "42:from-a-file"


def test_the_variable_itself_wins_over_the_file(tmp_path, monkeypatch):
    secret = tmp_path / "token"
    secret.write_text("from-file")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", str(secret))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "from-env")
    assert load_settings(ExampleSettings).telegram_bot_token == "from-env"


def test_a_bad_value_stops_start_up_with_the_variable_named(monkeypatch, capsys):
    monkeypatch.setenv("BACKEND_TIMEOUT", "-3")
    with pytest.raises(SystemExit) as exit_info:
        load_settings(ExampleSettings)
    assert exit_info.value.code == 2
    assert "BACKEND_TIMEOUT" in capsys.readouterr().err


def test_an_unreadable_secret_file_is_reported(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(SystemExit):
        load_settings(ExampleSettings)
    assert "TELEGRAM_BOT_TOKEN_FILE" in capsys.readouterr().err
