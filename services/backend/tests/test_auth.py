"""With BOT_PRIVATE_KEY set (here from a secret file), only the bot's key opens the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from phonicflow_testing.backend import BackendServer, new_session

KEY = "s3cret-bot-key-0123456789"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database: str | None
) -> Iterator[BackendServer]:
    secrets = tmp_path_factory.mktemp("secrets")
    key_file = Path(secrets) / "bot-key"
    key_file.write_text(KEY + "\n")
    env = {"BOT_PRIVATE_KEY_FILE": str(key_file), "LOG_LEVEL": "DEBUG"}
    with BackendServer(
        tmp_path_factory.mktemp("storage"), env=env, database_url=database
    ) as backend:
        yield backend


@pytest.mark.parametrize("headers", [{}, {"X-Bot-Key": "wrong"}, {"X-Bot-Key": KEY[:-1]},
                                     {"X-Bot-Key": KEY + "x"}, {"Authorization": KEY}])  # fmt: skip
def test_a_caller_without_the_right_key_gets_401_everywhere(
    server: BackendServer, headers: dict[str, str]
) -> None:
    with server.client(headers=headers) as client:
        for method, path in [("POST", "/bot/session"), ("GET", "/bot/status"),
                             ("POST", "/process"), ("GET", "/practice/next"),
                             ("GET", "/conversation/00000000-0000-4000-8000-000000000000"),
                             ("DELETE", "/conversation/00000000-0000-4000-8000-000000000000")]:  # fmt: skip
            response = client.request(method, path, headers={"session_id": "x"})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["code"] == "unauthorized"


def test_the_bot_with_its_key_gets_through(server: BackendServer) -> None:
    with server.client(headers={"X-Bot-Key": KEY}) as client:
        session = new_session(client)
        response = client.post("/process", headers={"session_id": session}, data={"text": "hi"})
        assert response.status_code == 200, response.text
        assert client.get(response.json()["coaching_audio_path"]).status_code == 200


def test_health_and_metrics_need_no_key(server: BackendServer) -> None:
    with server.client() as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_the_key_never_appears_in_logs_or_responses(server: BackendServer) -> None:
    with server.client(headers={"X-Bot-Key": "wrong"}) as client:
        assert KEY not in client.get("/bot/status").text
    with server.client(headers={"X-Bot-Key": KEY}) as client:
        assert KEY not in client.get("/bot/status").text
        assert KEY not in client.get("/openapi.json").text
    assert KEY not in server.logs()
