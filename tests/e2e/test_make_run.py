"""The README's run command: everything starts, a learner can chat, Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from phonicflow_emulator.client import EmulatorClient
from phonicflow_testing.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.system]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("with_redis", [False, True], ids=["embedded", "redis"])
def test_run_local_starts_the_system_with_the_emulator_and_ctrl_c_stops_it(
    tmp_path, request, with_redis
):
    emulator_port = free_port()
    worker_port = free_port()
    env = {
        **os.environ,
        "CONVERTER_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}",
        "BACKEND_PORT": str(free_port()),
        "BOT_HEALTH_PORT": str(free_port()),
        "EMULATOR_PORT": str(emulator_port),
        "STORAGE_DIR": str(tmp_path / "storage"),
        "BOT_WORKER_HEALTH_PORT": str(worker_port),
    }
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env.pop("REDIS_URL", None)
    if with_redis:  # then the bot runs as the chart runs it: a poller and a worker
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run_local.py")],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 150
        while "PhonicFlow is running" not in (tmp_path / "run.log").read_text():
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, "not running after 150 s"
            time.sleep(0.3)
        assert f"http://127.0.0.1:{emulator_port}/" in (tmp_path / "run.log").read_text()

        with EmulatorClient(f"http://127.0.0.1:{emulator_port}") as emu:
            learner = emu.user(5005, first_name="Lia", language_code="pt-br")
            learner.send_text("/start")
            (welcome,) = learner.wait_for_messages(count=1, timeout=30)
            assert "PhonicFlow" in welcome["text"]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    output = (tmp_path / "run.log").read_text()
    assert code == 0, output[-3000:]
    assert "[run]\x1b[0m stopped" in output
    if with_redis:
        assert "starting worker" in output and "starting poller" in output
    ports = (emulator_port, int(env["BACKEND_PORT"]), int(env["BOT_HEALTH_PORT"]), worker_port)
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"


def test_a_second_run_beside_a_running_one_names_the_port_that_is_taken_and_starts_nothing(
    tmp_path,
):
    converter_port = free_port()
    env = {
        **os.environ,
        "CONVERTER_LISTEN_ADDRESS": f"127.0.0.1:{converter_port}",
        "BACKEND_PORT": str(free_port()),
        "BOT_HEALTH_PORT": str(free_port()),
        "EMULATOR_PORT": str(free_port()),
        "STORAGE_DIR": str(tmp_path / "storage"),
    }
    env.pop("TELEGRAM_BOT_TOKEN", None)
    with socket.socket() as other:  # another PhonicFlow's backend, say
        other.bind(("127.0.0.1", int(env["BACKEND_PORT"])))
        other.listen()
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "run_local.py")],
            env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"port {env['BACKEND_PORT']} (BACKEND_PORT" in result.stdout
    assert "PhonicFlow is running" not in result.stdout and "starting" not in result.stdout
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", converter_port)) != 0, "nothing was started"
