"""Bad input gets the right status and a JSON error, and the service keeps serving."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from phonicflow_testing.backend import BackendServer, new_session, send_audio
from phonicflow_testing.speech import tone_wav

MAX_MB = 1
MAX_SECONDS = 20
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + os.urandom(512)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database: str | None
) -> Iterator[BackendServer]:
    env = {"MAX_AUDIO_SIZE_MB": str(MAX_MB), "MAX_AUDIO_SECONDS": str(MAX_SECONDS)}
    with BackendServer(
        tmp_path_factory.mktemp("storage"), env=env, database_url=database
    ) as backend:
        yield backend


@pytest.fixture(scope="module")
def client(server: BackendServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def session(client: httpx.Client) -> str:
    return new_session(client)


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str)
    if code:
        assert body["code"] == code, body


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty_audio"),
        (os.urandom(4000), "not_audio"),
        (PNG, "not_audio"),
        (b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk", "not_audio"),
        (tone_wav(1.0)[:44], "not_audio"),  # a header and no samples
    ],
    ids=["empty", "random-bytes", "png", "broken-riff", "header-only"],
)
def test_a_file_that_is_not_wav_audio_is_refused_with_415(
    client: httpx.Client, session: str, content: bytes, code: str
) -> None:
    assert_error(send_audio(client, session, content), 415, code)


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(
    client: httpx.Client, session: str
) -> None:
    big = b"RIFF" + os.urandom(MAX_MB * 1024 * 1024 + 300_000)
    assert_error(send_audio(client, session, big), 413, "too_large")


def test_an_oversized_upload_without_content_length_is_cut_off_while_streaming(
    server: BackendServer, session: str
) -> None:
    boundary = "pfboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(40):  # 40 x 64 KiB = 2.5 MB, over the 1 MB limit + overhead
            yield b"\x00" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = httpx.post(
        f"{server.url}/process",
        headers={"session_id": session,
                 "content-type": f"multipart/form-data; boundary={boundary}"},
        content=chunks(), timeout=30,
    )  # fmt: skip
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_error(response, 413, "too_large")


def test_audio_longer_than_the_limit_is_refused_with_the_limit_in_the_message(
    client: httpx.Client, session: str
) -> None:
    long_wav = tone_wav(MAX_SECONDS + 5, rate=8000)  # 8 kHz keeps it under the 1 MB size limit
    response = send_audio(client, session, long_wav)
    assert_error(response, 413, "audio_too_long")
    assert f"{MAX_SECONDS}" in response.json()["detail"]


def test_missing_session_header_is_a_422_naming_the_field(client: httpx.Client) -> None:
    response = client.post("/process", files={"file": ("a.wav", tone_wav(0.5), "audio/wav")})
    assert_error(response, 422, "invalid_request")
    assert "session_id" in response.json()["detail"]


# A fixed UUID nobody created: a random one would differ between xdist workers' collections.
@pytest.mark.parametrize(
    "session_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "../../etc/passwd"]
)
def test_an_unknown_session_is_a_404(client: httpx.Client, session_id: str) -> None:
    assert_error(send_audio(client, session_id, tone_wav(0.5)), 404, "unknown_session")
    assert_error(client.get(f"/conversation/{session_id}"), 404)
    assert_error(client.get(f"/audio/{session_id}"), 404)


def test_neither_file_nor_text_is_a_422(client: httpx.Client, session: str) -> None:
    response = client.post("/process", headers={"session_id": session}, data={"text": "   "})
    assert_error(response, 422, "invalid_request")


def test_a_bad_audio_type_is_a_422(client: httpx.Client, session: str) -> None:
    assert_error(client.get(f"/audio/{session}", params={"audio_type": "music"}), 422)


def test_no_audio_yet_is_a_404(client: httpx.Client) -> None:
    fresh = new_session(client)
    assert_error(client.get(f"/audio/{fresh}"), 404, "no_audio")
    assert_error(
        client.get(f"/audio/{fresh}", params={"turn_id": str(uuid.uuid4())}), 404, "no_audio"
    )


@pytest.mark.parametrize(
    "text",
    ["Olá, tudo bem? 😀🇧🇷", "\u202eRTL override\u202c and zero\u200bwidth", "a\x00b\x07c",
     "ﬁ ligature, ＦＵＬＬＷＩＤＴＨ, e\u0301 combining", "-v pt-br --stdout"],
    ids=["emoji", "bidi", "control-chars", "compat-forms", "looks-like-a-flag"],
)  # fmt: skip
def test_odd_unicode_text_turns_are_answered(client: httpx.Client, session: str, text: str) -> None:
    response = client.post("/process", headers={"session_id": session}, data={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "\x00" not in body["user_transcript"]
    assert body["conversational_response"]


def test_text_over_the_limit_is_a_422(client: httpx.Client, session: str) -> None:
    response = client.post("/process", headers={"session_id": session}, data={"text": "a" * 5000})
    assert_error(response, 422, "text_too_long")


def test_malformed_json_bodies_get_json_errors(client: httpx.Client) -> None:
    assert_error(client.post("/bot/session", json={"language": "klingon"}), 422)
    assert_error(client.post("/bot/metrics", json={"value": 1}), 422)
    assert_error(client.post("/bot/metrics", json={"event": "x", "value": -1}), 422)
    assert_error(
        client.post(
            "/bot/session", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
    )
    assert_error(client.get("/no/such/endpoint"), 404, "not_found")


def test_after_all_that_the_service_still_serves(
    client: httpx.Client, session: str, server: BackendServer
) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    response = client.post("/process", headers={"session_id": session}, data={"text": "hello"})
    assert response.status_code == 200
    assert server.process.running
    assert "Traceback" not in server.logs()
