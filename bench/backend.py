"""Latency of ``POST /process`` over real HTTP against a real backend, per stage.

Usage::

    .venv/bin/python bench/backend.py                 # default engines, 3/5/10/30 s notes
    .venv/bin/python bench/backend.py --runs 10 --env TTS_ENGINE=piper
    .venv/bin/python bench/backend.py --replicas 1 2    # scale-out on one PostgreSQL

Starts ``python -m phonicflow_backend`` on a free port with a temporary STORAGE_DIR, synthesises
English speech with espeak-ng (cut to the exact length, 16 kHz mono PCM16 WAV as the bot sends
it), sends each note ``--runs`` times one after another (after one warm-up request), and prints a
Markdown table: client-side wall time, the server's ``timings_ms`` per stage (p50 / p95), and the
server process's CPU time per request (steadier than wall time on a busy machine).

``--replicas N ...`` measures scale-out instead: a real PostgreSQL (as in the tests), N backend
processes sharing it, and ``--learners`` learners each sending a note, waiting for the answer and
sending the next, spread over the replicas as a Service would, for ``--duration`` seconds. It
prints notes/s, /process p50 / p95, and the time spent in the database per turn (the sum of
``phonicflow_backend_db_seconds`` over the replicas, divided by the turns).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from phonicflow_testing.backend import BackendServer, new_session, send_audio, speech_wav_16k
from phonicflow_testing.postgres import PostgresServer
from phonicflow_testing.speech import wav_info

TEXT = (
    "I think three trees are there. The weather is nice today, so we walked to the park. "
    "My brother works in a big office and he likes his job. "
)
STAGES = ("stt", "scoring", "second_opinion", "coaching", "translation", "tts", "total")


def note(seconds: float) -> bytes:
    """Speech exactly ``seconds`` long (espeak-ng, repeated text, cut)."""
    from phonicflow_backend.audio import decode_wav, pcm_to_wav

    text = TEXT
    while True:
        wav = speech_wav_16k(text)
        if wav_info(wav)[3] >= seconds:
            break
        text += TEXT
    pcm = decode_wav(wav, max_seconds=float("inf")).samples
    return pcm_to_wav(pcm[: int(seconds * 16000) * 2], 16000)


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def db_time(server: BackendServer) -> tuple[float, float]:
    """(seconds, statements) the replica has spent in the database so far."""
    total = count = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{server.url}/metrics").text):
        for sample in family.samples:
            if sample.name == "phonicflow_backend_db_seconds_sum":
                total += sample.value
            elif sample.name == "phonicflow_backend_db_seconds_count":
                count += sample.value
    return total, count


def closed_loop(
    servers: list[BackendServer], sessions: list[str], wav: bytes, duration: float
) -> list[float]:
    """Each learner sends a note, waits for the answer, sends the next, for ``duration``
    seconds; learner i talks to replica i mod N. The latencies in ms."""
    deadline = time.monotonic() + duration

    def learner(i: int) -> list[float]:
        latencies = []
        with servers[i % len(servers)].client(timeout=300) as client:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                send_audio(client, sessions[i], wav).raise_for_status()
                latencies.append((time.perf_counter() - start) * 1000)
        return latencies

    with concurrent.futures.ThreadPoolExecutor(len(sessions)) as pool:
        return [x for result in pool.map(learner, range(len(sessions))) for x in result]


def scale_out(replicas: list[int], seconds: float, learners: int, duration: float) -> None:
    wav = note(seconds)
    rows = []
    with PostgresServer() as pg, tempfile.TemporaryDirectory() as tmp:
        for n in replicas:
            url = pg.create_database()
            servers = [
                BackendServer(Path(tmp) / f"r{n}-{i}", database_url=url).start() for i in range(n)
            ]
            try:
                sessions = []
                for i in range(learners):
                    with servers[0].client() as c:
                        sessions.append(new_session(c, telegram_user_id=1000 + i))
                for server in servers:  # warm-up: the first turn of a process is slower
                    with server.client() as c:
                        send_audio(c, sessions[0], wav).raise_for_status()
                db_before = [db_time(s) for s in servers]
                started = time.monotonic()
                latencies = closed_loop(servers, sessions, wav, duration)
                elapsed = time.monotonic() - started
                db_after = [db_time(s) for s in servers]
            finally:
                for server in servers:
                    server.stop()
            db_s = sum(a[0] - b[0] for a, b in zip(db_after, db_before, strict=True))
            statements = sum(a[1] - b[1] for a, b in zip(db_after, db_before, strict=True))
            turns = len(latencies)
            rows.append(
                f"| {n} | {learners} | {turns} | {turns / elapsed:.2f} | "
                f"{percentile(latencies, 50):.0f} / {percentile(latencies, 95):.0f} | "
                f"{db_s / turns * 1000:.1f} ms ({statements / turns:.0f} statements) |"
            )
            print(rows[-1], flush=True)
    print()
    print(f"{seconds:g} s notes, {duration:g} s per row, PostgreSQL {pg.bindir.parent.name}")
    print("| replicas | learners | turns | notes/s | /process p50 / p95 ms | DB time per turn |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=float, nargs="+", default=[3, 5, 10, 30])
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--drill", action="store_true", help="send target_text (drill mode)")
    parser.add_argument("--replicas", type=int, nargs="+", help="scale-out mode (see above)")
    parser.add_argument("--learners", type=int, default=4, help="scale-out: concurrent learners")
    parser.add_argument("--duration", type=float, default=60, help="scale-out: seconds per row")
    args = parser.parse_args()
    if args.replicas:
        scale_out(args.replicas, args.seconds[0] if len(args.seconds) == 1 else 5.0,
                  args.learners, args.duration)  # fmt: skip
        return
    env = dict(item.split("=", 1) for item in args.env)

    rows: list[str] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        BackendServer(Path(tmp), env=env) as server,
        httpx.Client(base_url=server.url, timeout=300) as client,
    ):
        if True:
            session = new_session(client)
            status = client.get("/bot/status").json()
            proc = psutil.Process(server.process.pid)
            for seconds in args.seconds:
                wav = note(seconds)
                target = TEXT.split(".")[0] if args.drill else None
                send_audio(client, session, wav, target).raise_for_status()  # warm-up
                walls: list[float] = []
                cpu: list[float] = []
                stages: dict[str, list[float]] = {s: [] for s in STAGES}
                degraded: set[str] = set()
                scored = 0
                for _ in range(args.runs):
                    cpu_before = _cpu_seconds(proc)
                    start = time.perf_counter()
                    response = send_audio(client, session, wav, target)
                    walls.append((time.perf_counter() - start) * 1000)
                    cpu.append((_cpu_seconds(proc) - cpu_before) * 1000)
                    response.raise_for_status()
                    body = response.json()
                    assert body["coaching_audio_path"], body["degraded"]
                    client.get(body["coaching_audio_path"]).raise_for_status()
                    degraded.update(body["degraded"])
                    scored += body["pronunciation"] is not None
                    for stage in STAGES:
                        stages[stage].append(body["timings_ms"].get(stage, 0))
                cells = [
                    f"{seconds:g} s",
                    f"{percentile(walls, 50):.0f} / {percentile(walls, 95):.0f}",
                ]
                cells += [
                    f"{percentile(stages[s], 50):.0f} / {percentile(stages[s], 95):.0f}"
                    for s in STAGES
                ]
                cells += [
                    f"{statistics.median(cpu):.0f}",
                    f"{scored}/{args.runs}",
                    ",".join(sorted(degraded)) or "-",
                ]
                rows.append("| " + " | ".join(cells) + " |")
                print(rows[-1], flush=True)
    print()
    print(f"engines: {status['engines']}; runs per row: {args.runs}; drill: {args.drill}")
    print(
        "| note | wall p50 / p95 ms | "
        + " | ".join(f"{s} p50 / p95" for s in STAGES)
        + " | server CPU ms p50 | scored | degraded |"
    )
    print("|" + "---|" * (len(STAGES) + 5))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
