"""What fuzzing and load found at the HTTP edge, against the real app and uvicorn config on
stub engines: slow and numerous clients, schema and behaviour disagreeing, the learner
endpoints."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from phonicflow_testing.backend import rows_mentioning
from phonicflow_testing.processes import eventually
from phonicflow_testing.stub_backend import StubBackend

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 8


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubBackend]:
    env = {
        "BACKEND_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "BACKEND_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "BACKEND_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    with StubBackend(Path(tmp_path_factory.mktemp("storage")), env=env) as server:
        yield server


@pytest.fixture
def client(backend: StubBackend) -> Iterator[httpx.Client]:
    with backend.client() as c:
        yield c


def half_open(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(data)
    return sock


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while chunk := sock.recv(4096):
            if b"HTTP/1.1" in chunk:  # an answer (e.g. 408) counts as being let go too
                return True
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_connections_that_never_finish_their_headers_are_closed(backend: StubBackend) -> None:
    slow = [half_open(backend.port, b"POST /process HTTP/1.1\r\nHost: x\r\n") for _ in range(5)]
    started = time.monotonic()
    try:
        assert all(closed_by_server(s, within=HEADER_TIMEOUT_S + 3) for s in slow)
    finally:
        for s in slow:
            s.close()
    assert time.monotonic() - started < HEADER_TIMEOUT_S + 3


def test_a_connection_dripping_header_bytes_is_closed_too(backend: StubBackend) -> None:
    sock = half_open(backend.port, b"GET /healthz HTTP/1.1\r\n")
    started = time.monotonic()
    try:
        while time.monotonic() - started < HEADER_TIMEOUT_S + 3:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
            time.sleep(0.2)
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 3
    finally:
        sock.close()


def test_a_body_that_does_not_arrive_in_time_gets_408(
    backend: StubBackend, client: httpx.Client
) -> None:
    session = client.post("/bot/session").json()["session_id"]
    sock = half_open(
        backend.port,
        f"POST /process HTTP/1.1\r\nHost: x\r\nsession_id: {session}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000\r\n\r\n--b\r\n".encode(),
    )
    try:
        sock.settimeout(BODY_TIMEOUT_S + 5)
        answer = b""
        while chunk := sock.recv(4096):  # until the server closes the connection
            answer += chunk
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request_timeout" in answer


def test_beyond_the_connection_limit_new_requests_get_503_at_once(backend: StubBackend) -> None:
    held = [half_open(backend.port, b"GET /healthz HTTP/1.1\r\n") for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)
        started = time.monotonic()
        response = httpx.get(f"{backend.url}/healthz", timeout=5)
        assert response.status_code == 503
        assert time.monotonic() - started < 2
    finally:
        for s in held:
            s.close()
    # the held connections are released as the server notices them closed
    eventually(lambda: httpx.get(f"{backend.url}/healthz", timeout=5).status_code == 200)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/bot/session", {"telegram_user_id": False}),
        ("/bot/session", {"telegram_user_id": "42"}),
        ("/bot/session", {"telegram_user_id": -1}),
        ("/bot/session", {"surprise": 1}),
        ("/bot/metrics", {"event": "x", "value": False}),
        ("/bot/metrics", {"event": "x", "value": -1}),
    ],
)
def test_what_the_schema_forbids_is_refused_with_422(
    client: httpx.Client, path: str, body: dict[str, object]
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("path", ["/bot/metrics", "/bot/session"])
@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"\x8e3\xc1", b"[1,", b'{"event": "x"'])
def test_malformed_json_is_422_as_documented(client: httpx.Client, path: str, raw: bytes) -> None:
    response = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"


def test_integers_are_json_integers(client: httpx.Client) -> None:
    """42.0 is an integer to JSON Schema; true and "42" are not."""
    assert client.post("/bot/session", json={"telegram_user_id": 42.0}).status_code == 201
    for bad in (True, "42", 42.5):
        assert client.post("/bot/session", json={"telegram_user_id": bad}).status_code == 422


def test_the_schema_states_the_limits_it_enforces(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    value = components["BotMetricRequest"]["properties"]["value"]
    assert (value["type"], value["minimum"]) == ("number", 0), value
    user = components["CreateSessionRequest"]["properties"]["telegram_user_id"]["anyOf"][0]
    assert user["type"] == "integer" and user["exclusiveMinimum"] == 0
    focus = next(
        p for p in schema["paths"]["/practice/next"]["get"]["parameters"] if p["name"] == "focus"
    )
    assert "th" in str(focus["schema"]) and "final_s_ed" in str(focus["schema"])
    assert client.get("/practice/next", params={"focus": "klingon"}).status_code == 422
    assert client.get("/practice/next", params={"focus": ""}).status_code == 422


def test_a_wrong_method_names_every_method_the_path_serves(client: httpx.Client) -> None:
    session = client.post("/bot/session").json()["session_id"]
    response = client.options(f"/conversation/{session}")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "DELETE"}
    assert response.json()["code"] == "method_not_allowed"


def test_a_learner_is_found_and_erased_by_telegram_id(
    backend: StubBackend, client: httpx.Client
) -> None:
    assert client.get("/learner/777/session").json()["code"] == "unknown_learner"
    session = client.post("/bot/session", json={"telegram_user_id": 777, "language": "pt"}).json()
    sid = session["session_id"]
    reply = client.post("/process", headers={"session_id": sid}, data={"text": "my secret words"})
    assert reply.status_code == 200
    current = client.get("/learner/777/session").json()
    assert (current["session_id"], current["turns"], current["language"]) == (sid, 1, "pt")
    erased = client.delete("/learner/777").json()
    assert erased == {"telegram_user_id": 777, "deleted": True, "sessions": 1, "turns": 1,
                      "audio": 2, "labels": 0, "progress": 0}  # fmt: skip
    assert rows_mentioning(backend.database_url, "my secret words", sid, 777) == []
    assert client.get(f"/conversation/{sid}").status_code == 404
    assert client.get("/learner/777/session").status_code == 404
    assert client.delete("/learner/777").json()["deleted"] is False
    assert client.get("/learner/0/session").status_code == 422
    assert client.delete("/learner/true").status_code == 422


def test_time_in_the_database_is_measured_per_statement(client: httpx.Client) -> None:
    session = client.post("/bot/session").json()["session_id"]
    assert client.post("/process", headers={"session_id": session}, data={"text": "hi"}).is_success
    counts = {
        sample.labels["statement"]: sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name == "phonicflow_backend_db_seconds_count"
    }
    assert counts["insert"] >= 3 and counts["update"] >= 1 and counts["select"] >= 1, counts
