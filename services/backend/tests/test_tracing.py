"""The backend joins the bot's trace (W3C traceparent) and exports a span per pipeline stage."""

from __future__ import annotations

import secrets
from pathlib import Path

from phonicflow_testing.backend import BackendServer, new_session
from phonicflow_testing.otlp import OtlpReceiver


def test_a_turn_is_traced_stage_by_stage_inside_the_callers_trace(
    tmp_path: Path, short_wav: bytes
) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    with (
        OtlpReceiver() as receiver,
        BackendServer(tmp_path, env=receiver.exporter_env()) as server,
        server.client() as client,
    ):
        session = new_session(client)
        response = client.post(
            "/process",
            headers={"session_id": session, "traceparent": f"00-{trace_id}-{parent_id}-01"},
            files={"file": ("n.wav", short_wav, "audio/wav")},
        )
        assert response.status_code == 200, response.text
        client.get("/healthz")

        def complete(spans: list) -> bool:  # type: ignore[type-arg]
            ours = [s for s in spans if s.trace_id == trace_id]
            # the server span ends last, after the response is sent
            has_root = any(s.parent_span_id == parent_id for s in ours)
            return has_root and {"stt", "scoring", "coaching", "tts"} <= {s.name for s in ours}

        spans = receiver.wait_for(complete)
    ours = [s for s in spans if s.trace_id == trace_id]
    assert {s.service for s in ours} == {"phonicflow-backend"}
    by_id = {s.span_id: s for s in ours}
    root = [s for s in ours if s.parent_span_id == parent_id]
    assert len(root) == 1 and "/process" in root[0].name
    stt = next(s for s in ours if s.name == "stt")
    assert stt.attributes["stt.engine"] == "whisper"
    assert by_id[stt.parent_span_id].name == "pipeline"
    assert next(s for s in ours if s.name == "scoring").attributes["scoring.words"] >= 1
    assert not [s for s in spans if "healthz" in s.name]
