"""The converter as operations sees it: health, reflection, overload, deadlines, a graceful
drain on SIGTERM, tracing, and a refusal to start on bad settings."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import psutil  # type: ignore[import-untyped]
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from phonicflow.audio.v1 import converter_pb2
from phonicflow_converter.server import RPC_HEADROOM
from phonicflow_testing import speech
from phonicflow_testing.processes import eventually

SERVICE = "phonicflow.audio.v1.AudioConverterService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_health_reports_serving_for_the_server_and_the_converter(converter):
    assert converter.health_status("") == SERVING
    assert converter.health_status(SERVICE) == SERVING


def test_reflection_lists_the_converter_health_and_reflection(converter):
    stub = reflection_pb2_grpc.ServerReflectionStub(converter.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = {service.name for service in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


def test_past_the_bound_and_the_queue_callers_are_turned_away_at_once_and_none_hang(
    start_converter, long_wav
):
    busy = start_converter(CONVERTER_MAX_CONCURRENCY="1", CONVERTER_MAX_QUEUE="1")
    request = converter_pb2.ToVoiceRequest(audio=long_wav)

    def call() -> tuple[grpc.StatusCode, float]:
        started = time.monotonic()
        try:
            busy.stub.ToVoice(request, timeout=60)
            return grpc.StatusCode.OK, time.monotonic() - started
        except grpc.RpcError as exc:
            return exc.code(), time.monotonic() - started

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda _: call(), range(4)))
    codes = [code for code, _ in outcomes]
    # one runs, one waits its turn, two are told "busy" with the code retry policies retry
    assert codes.count(grpc.StatusCode.OK) == 2
    assert codes.count(grpc.StatusCode.UNAVAILABLE) == 2
    # a refusal is immediate; the waiting caller is served after the running one: it waited
    # through both conversions (the server's own times), which it could not if they overlapped
    ok_times = sorted(t for code, t in outcomes if code == grpc.StatusCode.OK)
    assert all(t < ok_times[0] / 2 for code, t in outcomes if code != grpc.StatusCode.OK)
    converted = eventually(lambda: _conversion_seconds(busy.process.logs(), "to_voice")[:2])
    assert len(converted) == 2
    assert ok_times[1] >= sum(converted)


def test_past_grpcs_own_cap_a_call_is_turned_away_before_the_converter_reads_it(
    start_converter, encoded
):
    # Concurrency 1, no queue: gRPC lets in 1 + 0 + RPC_HEADROOM calls at once. Long-lived
    # health watches (each client channel keeps one open) fill that cap here.
    capped = start_converter(CONVERTER_MAX_CONCURRENCY="1", CONVERTER_MAX_QUEUE="0")
    request = converter_pb2.ToWavRequest(audio=encoded["ogg"])
    watches = [
        capped.health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
        for _ in range(1 + RPC_HEADROOM)
    ]
    try:
        for watch in watches:
            assert next(watch).status == SERVING  # each watch is open and counted
        with pytest.raises(grpc.RpcError) as refused:
            capped.stub.ToWav(request, timeout=5)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # the servicer never saw it: nothing was converted, nothing rejected as busy
        assert "conversion" not in capped.process.logs()
    finally:
        watches.pop().cancel()
    # one slot free again: served, once the server has seen the cancel (it arrives as its own
    # frame, so the very next call can still find the slot taken)
    assert eventually(lambda: _unless_busy(lambda: capped.stub.ToWav(request, timeout=5).wav), 5)
    for watch in watches:
        watch.cancel()


def test_waiting_callers_are_served_in_turn_and_one_whose_deadline_passes_leaves_the_queue(
    start_converter, long_wav, encoded
):
    single = start_converter(CONVERTER_MAX_CONCURRENCY="1", CONVERTER_MAX_QUEUE="2")
    voice = converter_pb2.ToVoiceRequest(audio=long_wav)
    wav = converter_pb2.ToWavRequest(audio=encoded["ogg"])
    with ThreadPoolExecutor(max_workers=3) as pool:
        running = pool.submit(single.stub.ToVoice, voice, timeout=60)
        time.sleep(0.05)  # the long conversion holds the only slot
        impatient = pool.submit(single.stub.ToWav, wav, timeout=0.2)
        patient = pool.submit(single.stub.ToWav, wav, timeout=60)
        with pytest.raises(grpc.RpcError) as info:
            impatient.result()
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert not running.done()  # it gave up while waiting, not after its turn came
        assert patient.result().wav
        assert running.result().ogg_opus
    # nothing leaked: the slot is free again
    assert single.stub.ToWav(wav, timeout=5).wav


def test_a_caller_whose_deadline_passes_gets_deadline_exceeded_and_the_work_is_abandoned(
    start_converter, long_wav, encoded
):
    single = start_converter(CONVERTER_MAX_CONCURRENCY="1")
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        single.stub.ToVoice(converter_pb2.ToVoiceRequest(audio=long_wav), timeout=0.2)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 1.0
    # With room for one conversion, the next caller only gets in once the abandoned one stopped;
    # finishing it would have taken about a second more.
    refusals: list[grpc.StatusCode] = []
    while True:
        try:
            single.stub.ToWav(converter_pb2.ToWavRequest(audio=encoded["ogg"]), timeout=10)
            break
        except grpc.RpcError as exc:
            refusals.append(exc.code())
            time.sleep(0.02)
    assert set(refusals) <= {grpc.StatusCode.UNAVAILABLE}
    assert time.monotonic() - started < 1.0
    eventually(lambda: '"status": "DEADLINE_EXCEEDED"' in single.process.logs(), 5)


def _client_ports(converter) -> set[int]:
    """The ports of the clients connected to this converter right now."""
    port = int(converter.address.rsplit(":", 1)[1])
    connections = psutil.Process(converter.process.pid).net_connections("tcp")
    return {
        c.raddr.port
        for c in connections
        if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port and c.raddr
    }


def test_an_old_connection_is_asked_to_reconnect_and_no_call_fails(start_converter, encoded):
    # How clients find pods the autoscaler added: they resolve the name again on reconnecting.
    ageing = start_converter(CONVERTER_MAX_CONNECTION_AGE_SECONDS="0.5")
    request = converter_pb2.ToWavRequest(audio=encoded["ogg"])
    clients: set[int] = set()
    calls = 0
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        assert ageing.stub.ToWav(request, timeout=10).wav  # any failed call raises
        calls += 1
        clients |= _client_ports(ageing)
    assert calls > 10
    assert len(clients) >= 3, f"one connection kept for 3 s: {clients}"


def test_without_a_connection_age_a_client_keeps_its_connection(start_converter, encoded):
    steady = start_converter(CONVERTER_MAX_CONNECTION_AGE_SECONDS="0")
    request = converter_pb2.ToWavRequest(audio=encoded["ogg"])
    clients: set[int] = set()
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        assert steady.stub.ToWav(request, timeout=10).wav
        clients |= _client_ports(steady)
    assert len(clients) == 1


def test_sigterm_drains_the_in_flight_conversion_then_exits_cleanly(
    start_converter, long_wav, encoded
):
    draining = start_converter(CONVERTER_GRACE_SECONDS="30")
    result: dict[str, object] = {}

    def slow_call() -> None:
        try:
            result["reply"] = draining.stub.ToVoice(
                converter_pb2.ToVoiceRequest(audio=long_wav), timeout=60
            )
        except grpc.RpcError as exc:
            result["error"] = exc

    worker = threading.Thread(target=slow_call)
    worker.start()
    time.sleep(0.3)  # the upload reaches the server in milliseconds; encoding it takes ~1 s
    draining.process.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while draining.health_status() != NOT_SERVING:
        assert time.monotonic() < deadline, "health never flipped to NOT_SERVING"
        time.sleep(0.02)
    assert draining.health_status(SERVICE) == NOT_SERVING
    with pytest.raises(grpc.RpcError) as refused:
        draining.stub.ToWav(converter_pb2.ToWavRequest(audio=encoded["ogg"]), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

    worker.join(30)
    assert "error" not in result, result.get("error")
    assert result["reply"].output.duration_seconds == pytest.approx(
        speech.wav_info(long_wav)[3], abs=0.1
    )
    assert draining.process.proc.wait(15) == 0
    assert "converter stopped" in draining.process.logs()


def test_each_conversion_is_a_span_in_the_callers_trace_and_health_checks_are_not_traced(
    start_converter, encoded
):
    traced = start_converter(OTEL_TRACES_EXPORTER="console")
    traced.health_status()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"  # as the bot's span would send it
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    traced.stub.ToWav(
        converter_pb2.ToWavRequest(audio=encoded["ogg"]),
        timeout=30,
        metadata=[("traceparent", traceparent)],
    )
    time.sleep(0.3)  # the console exporter writes synchronously; give the pipe a moment
    logs = traced.process.logs()
    spans = [
        json.loads(block)
        for block in _json_blocks(logs)
        if '"trace_id"' in block and '"attributes"' in block
    ]
    names = [span["name"] for span in spans]
    assert "convert.to_wav" in names
    assert any("ToWav" in name for name in names)  # the server interceptor's RPC span
    assert not any("Health" in name for name in names)
    (convert,) = [span for span in spans if span["name"] == "convert.to_wav"]
    assert convert["context"]["trace_id"] == f"0x{trace_id}"  # joined to the caller's trace
    attrs = convert["attributes"]
    assert attrs["audio.input.codec"] == "opus"
    assert attrs["audio.input.container"] == "ogg"
    assert attrs["audio.input.size_bytes"] == len(encoded["ogg"])
    assert attrs["audio.output.sample_rate_hz"] == 16000
    assert attrs["audio.input.duration_seconds"] > 2


def _json_blocks(text: str) -> list[str]:
    """Top-level multi-line JSON objects in ``text`` (the console exporter pretty-prints)."""
    blocks, current, depth = [], [], 0
    for line in text.splitlines():
        if depth == 0 and line.strip() != "{":
            continue
        current.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0:
            blocks.append("\n".join(current))
            current = []
    return blocks


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CONVERTER_MAX_INPUT_MB", "lots"),
        ("CONVERTER_MAX_DURATION_SECONDS", "-5"),
        ("CONVERTER_MAX_CONCURRENCY", "0"),
        ("CONVERTER_MAX_CONNECTION_AGE_SECONDS", "-1"),
        ("CONVERTER_LISTEN_ADDRESS", "nowhere"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_setting_stops_start_up_with_the_variable_named(variable, value):
    result = subprocess.run(
        [sys.executable, "-m", "phonicflow_converter"],
        env={"PATH": "/usr/bin:/bin", variable: value},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert variable in result.stderr


def test_a_port_already_taken_stops_start_up_with_the_address_named(unused_port):
    address = f"127.0.0.1:{unused_port}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", unused_port))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "-m", "phonicflow_converter"],
            env={"PATH": "/usr/bin:/bin", "CONVERTER_LISTEN_ADDRESS": address},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"CONVERTER_LISTEN_ADDRESS={address}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_converter_needs_no_ffmpeg_binary_it_never_spawns_one(
    start_converter, encoded, tmp_path
):
    bare = start_converter(PATH=str(tmp_path))  # an empty directory: no ffmpeg, no ffprobe
    wav = bare.stub.ToWav(converter_pb2.ToWavRequest(audio=encoded["ogg"]), timeout=30)
    voice = bare.stub.ToVoice(converter_pb2.ToVoiceRequest(audio=wav.wav), timeout=30)
    assert voice.output.duration_seconds == pytest.approx(wav.output.duration_seconds, abs=0.001)
    assert "Couldn't find ffmpeg" not in bare.process.logs()


def _unless_busy(call):  # type: ignore[no-untyped-def]
    """``call()``, or None while gRPC still refuses it as RESOURCE_EXHAUSTED (for eventually)."""
    try:
        return call()
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
            raise
        return None


def _conversion_seconds(logs: str, operation: str) -> list[float]:
    """The server-side time of each successful conversion, from the converter's JSON log."""
    seconds = []
    for line in logs.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("operation") == operation and record.get("status") == "OK":
            seconds.append(record["total_ms"] / 1000)
    return seconds
