"""Benchmark the bot: overhead per voice note at 1, 50 and 200 concurrent learners.

Usage::

    .venv/bin/python bench/bot.py                      # about ten minutes on 2 cores
    .venv/bin/python bench/bot.py --levels 1 50 --rounds 5 --learners 0
    .venv/bin/python bench/bot.py --levels 1 --learners 50 --duration 120 --workers 2

The bot runs as the chart runs it: one poller and ``--workers`` worker processes (default: a
run with 1 and a run with 2) sharing the update log in Redis. ``Redis cmds/update`` is Redis's
own count of commands processed (``INFO stats``, scripts' inner calls included) over the
updates answered, for everything the bot does: the log, sessions, rate limits, journals.

Everything is a real process on loopback: the Telegram emulator, Redis, the audio converter
(two processes by default, as the chart runs two replicas; the bot takes them in turn, as it
does the pods behind the chart's headless Service), the bot (``python -m phonicflow_bot``),
and as backend the real backend on stub engines (``python -m phonicflow_testing.stub_backend``:
the real app, its SQLite storage and idempotency, with speech engines that answer at once), so
the backend's own cost is its HTTP, storage and scoring plumbing, not speech recognition.
For the bursts the bot's own flood limit (BOT_OUTGOING_RATE_PER_SECOND) and per-learner limit
are lifted, so the numbers show what the bot can do, not Telegram's 30 messages/s ceiling; the
closed loop runs a second bot process with every setting at its shipped default.

Per round, every learner sends one 2 s voice note at the same moment and waits for its three
replies (feedback text, coaching voice, reply voice). Times come from the emulator's own event
clock: ``e2e`` = the learner's message arriving → the third reply arriving. ``overhead`` =
``e2e`` minus the time the backend spent handling that learner's requests (POST /process, and
the longer of the two GET /audio made in parallel); it includes long-poll delivery, download,
two conversions to WAV and voice (real converter), three uploads. ``updates/s`` = voice notes
answered per second of wall time for the round. ``first reply`` = arrival → the feedback text
(what the learner reads first; the voice notes follow). ``bot CPU ms/note`` = the bot
process's CPU time over the level divided by notes answered: its own cost, free of queueing.

Two kinds of load:

- *at once* (``--levels``): every learner sends a note in the same instant, a stress test of
  queueing. On 2 cores it measures throughput more than latency: 50 notes in one instant are
  50 × the CPU of a note, whatever the bot does, and the last learner waits for all of it.
- *closed loop* (``--learners 50``, the target's "50 concurrent learners"): each learner
  practises as a person does, sending a note, waiting for the three replies, then listening and
  recording the next one (think time uniform in ``--think``, 5-15 s by default: ~5 notes/s
  for 50 learners), for ``--duration`` seconds. Arrivals cluster at random, as real ones do.

Every learner must get exactly three replies per note: anything lost or doubled is reported and
fails the run. The CPU table shows every process's CPU per note (they all share the cores).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis  # type: ignore[import-untyped]

from phonicflow_emulator.client import AsyncEmulatorClient
from phonicflow_emulator.testing import running_emulator
from phonicflow_testing.processes import ServiceProcess, free_port
from phonicflow_testing.speech import encode, synth_wav

ROOT = Path(__file__).resolve().parent.parent
REPLIES_PER_VOICE_NOTE = 3
DEFAULT_LEVELS = (1, 50, 200)
#: Closed loop at the default settings: the target's 50 learners, for two minutes.
DEFAULT_LEARNERS = 50
DEFAULT_THINK_SECONDS = (5.0, 15.0)
DEFAULT_DURATION_SECONDS = 120.0
#: Think times are random but the same every run.
SEED = 20261124
#: Rounds per level at the default settings: more rounds where each is cheap.
DEFAULT_ROUNDS = {1: 20, 50: 3, 200: 2}
ROUND_TIMEOUT_SECONDS = 120.0
#: The bench reads the emulator's event feed in batches. Times come from the emulator's clock,
#: so this costs no accuracy, and it keeps the harness (which shares the cores with the system
#: under test, where Telegram and the learners' phones are not) from polling once per reply:
#: 11 ms of its CPU per voice note at one poll per reply, 7.5 at 0.05 s, 4.5 at 0.5 s.
OBSERVE_PAUSE_SECONDS = 0.5
#: Worker processes per run (the chart's default is 2 replicas).
DEFAULT_WORKERS = (1, 2)
#: Converter processes, as the chart's two replicas (``converter.replicaCount``).
DEFAULT_CONVERTERS = 2
TARGET = "p99 overhead < 100 ms for a voice note at 50 concurrent learners; nothing lost or doubled"


#: The processes of one component (the converters are several).
Processes = dict[str, list[psutil.Process]]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU time of a component's processes (the bench client: itself)."""
    return float(sum(t.user + t.system for t in (p.cpu_times() for p in processes)))


def redis_commands(url: str) -> int:
    """Commands Redis has processed since it started (its own count)."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def table_row(
    level: str,
    *,
    notes: int,
    first: list[float],
    e2e: list[float],
    overhead: list[float],
    **totals: Any,
) -> dict[str, Any]:
    """One line of the results table: percentiles of the three latencies, plus ``totals``
    (cpu_ms, backend_ms, rate, lost, doubled) as they are."""
    return {
        "level": level,
        "notes": notes,
        "first_p50": percentile(first, 50),
        "first_p99": percentile(first, 99),
        "e2e_p50": percentile(e2e, 50),
        "e2e_p99": percentile(e2e, 99),
        "p50": percentile(overhead, 50),
        "p99": percentile(overhead, 99),
        **totals,
    }


async def backend_requests(backend_url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as http:
        found: list[dict[str, Any]] = (await http.get(f"{backend_url}/_test/requests")).json()
        return found


async def run_round(
    client: AsyncEmulatorClient,
    users: list[Any],
    ogg: bytes,
    backend_url: str,
) -> dict[str, Any]:
    """Every learner sends one voice note, all at the same moment."""
    cursor = (await client.events(after=0, timeout=0))["cursor"]
    backend_seen = len(await backend_requests(backend_url))
    started = time.time()

    await asyncio.gather(*(user.send_voice(ogg, duration=2) for user in users))
    ids = {user.id for user in users}
    sent_at: dict[int, float] = {}
    replies: dict[int, list[float]] = defaultdict(list)
    deadline = time.monotonic() + ROUND_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        answer = await client.events(after=cursor, timeout=1.0)
        cursor = answer["cursor"]
        await asyncio.sleep(OBSERVE_PAUSE_SECONDS)
        for event in answer["events"]:
            if event["kind"] != "message" or event["chat_id"] not in ids:
                continue
            if event["sender"] == "user":
                sent_at[event["chat_id"]] = event["time"]
            else:
                replies[event["chat_id"]].append(event["time"])
        if all(len(replies[i]) >= REPLIES_PER_VOICE_NOTE for i in ids):
            break
    await asyncio.sleep(1.0)  # anything answered twice shows up now
    for event in (await client.events(after=cursor, timeout=0))["events"]:
        if event["kind"] == "message" and event["chat_id"] in ids and event["sender"] == "bot":
            replies[event["chat_id"]].append(event["time"])
    finished = max((max(r) for r in replies.values() if r), default=time.time())

    backend = (await backend_requests(backend_url))[backend_seen:]
    work: dict[str, dict[str, float]] = defaultdict(lambda: {"process": 0.0, "audio": 0.0})
    for request in backend:
        sid = request.get("session_id") or request["path"].rsplit("/", 1)[-1]
        if request["path"] == "/process":
            work[sid]["process"] += request.get("ms", 0.0)
        elif request["path"].startswith("/audio/"):
            work[sid]["audio"] = max(work[sid]["audio"], request.get("ms", 0.0))
    lost = [i for i in ids if len(replies[i]) < REPLIES_PER_VOICE_NOTE]
    doubled = [i for i in ids if len(replies[i]) > REPLIES_PER_VOICE_NOTE]
    e2e = [
        (replies[i][REPLIES_PER_VOICE_NOTE - 1] - sent_at[i]) * 1000
        for i in ids
        if i in sent_at and len(replies[i]) >= REPLIES_PER_VOICE_NOTE
    ]
    first = [(replies[i][0] - sent_at[i]) * 1000 for i in ids if i in sent_at and replies[i]]
    backend_ms = [w["process"] + w["audio"] for w in work.values()]
    mean_backend = statistics.fmean(backend_ms) if backend_ms else 0.0
    return {
        "first": first,
        "e2e": e2e,
        "overhead": [value - mean_backend for value in e2e],
        "backend_ms": mean_backend,
        "seconds": finished - started,
        "answered": len(ids) - len(lost),
        "lost": lost,
        "doubled": doubled,
    }


async def run_level(
    client: AsyncEmulatorClient,
    level: int,
    rounds: int,
    ogg: bytes,
    backend_url: str,
    redis_url: str,
    processes: Processes,
    id_base: int,
) -> dict[str, Any]:
    base = id_base + 100_000 * level
    users = [await client.user(base + n, first_name=f"L{n}") for n in range(level)]
    # Warm-up: every learner gets a session before timing starts.
    await asyncio.gather(*(user.send_text("/start") for user in users))
    await asyncio.gather(*(user.wait_for_messages(1, timeout=60) for user in users))
    cpu_before = {name: cpu_seconds(p) for name, p in processes.items()}
    commands_before = redis_commands(redis_url)
    results = [await run_round(client, users, ogg, backend_url) for _ in range(rounds)]
    cpu = {name: cpu_seconds(p) - cpu_before[name] for name, p in processes.items()}
    commands = redis_commands(redis_url) - commands_before
    e2e = [v for r in results for v in r["e2e"]]
    first = [v for r in results for v in r["first"]]
    overhead = [v for r in results for v in r["overhead"]]
    answered = sum(r["answered"] for r in results)
    return table_row(
        f"{level} at once",
        notes=level * rounds,
        first=first,
        e2e=e2e,
        overhead=overhead,
        cpu_ms={name: seconds * 1000 / max(1, answered) for name, seconds in cpu.items()},
        backend_ms=statistics.fmean(r["backend_ms"] for r in results),
        rate=answered / sum(r["seconds"] for r in results),
        lost=sum(len(r["lost"]) for r in results),
        doubled=sum(len(r["doubled"]) for r in results),
        redis_per_update=commands / max(1, answered),
    )


async def run_closed_loop(
    client: AsyncEmulatorClient,
    learners: int,
    think: tuple[float, float],
    duration: float,
    ogg: bytes,
    backend_url: str,
    redis_url: str,
    processes: Processes,
    id_base: int,
) -> dict[str, Any]:
    """``learners`` learners practise for ``duration`` seconds, each in a loop: send a voice
    note, wait for its three replies, think (uniform in ``think`` seconds: listening to the
    replies and recording the next note), send the next one. Starts are spread over the first
    think window, as people do not all press "send" in the same millisecond."""
    rng = random.Random(SEED)
    users = [await client.user(id_base + 900_000 + n, first_name=f"C{n}") for n in range(learners)]
    await asyncio.gather(*(user.send_text("/start") for user in users))
    await asyncio.gather(*(user.wait_for_messages(1, timeout=60) for user in users))
    by_id = {user.id: user for user in users}
    cursor = (await client.events(after=0, timeout=0))["cursor"]
    backend_seen = len(await backend_requests(backend_url))
    sent_at: dict[int, list[float]] = defaultdict(list)
    replies: dict[int, list[float]] = defaultdict(list)
    answered = {uid: asyncio.Event() for uid in by_id}
    last_reply: dict[int, float] = {}
    stop = asyncio.Event()

    async def watch() -> None:
        nonlocal cursor
        while not stop.is_set():
            answer = await client.events(after=cursor, timeout=0.5)
            cursor = answer["cursor"]
            await asyncio.sleep(OBSERVE_PAUSE_SECONDS)
            for event in answer["events"]:
                uid = event.get("chat_id")
                if event["kind"] != "message" or uid not in by_id:
                    continue
                if event["sender"] == "user":
                    sent_at[uid].append(event["time"])
                    continue
                replies[uid].append(event["time"])
                if len(replies[uid]) >= REPLIES_PER_VOICE_NOTE * len(sent_at[uid]):
                    last_reply[uid] = event["time"]
                    answered[uid].set()

    async def learner(user: Any, first_delay: float) -> int:
        await asyncio.sleep(first_delay)
        notes = 0
        while time.monotonic() < end:
            answered[user.id].clear()
            await user.send_voice(ogg, duration=2)
            notes += 1
            try:
                await asyncio.wait_for(answered[user.id].wait(), ROUND_TIMEOUT_SECONDS)
            except TimeoutError:
                break  # counted as lost below
            # Thinking starts when the last reply arrived, not when the bench read it.
            seen_late = time.time() - last_reply.get(user.id, time.time())
            await asyncio.sleep(max(0.0, rng.uniform(*think) - seen_late))
        return notes

    cpu_before = {name: cpu_seconds(p) for name, p in processes.items()}
    commands_before = redis_commands(redis_url)
    started = time.time()
    end = time.monotonic() + duration
    watcher = asyncio.create_task(watch())
    notes = await asyncio.gather(*(learner(user, rng.uniform(0, think[1])) for user in users))
    await asyncio.sleep(1.0)  # anything answered twice shows up now
    stop.set()
    await watcher
    cpu = {name: cpu_seconds(p) - cpu_before[name] for name, p in processes.items()}
    commands = redis_commands(redis_url) - commands_before
    finished = max((max(r) for r in replies.values() if r), default=time.time())

    backend = (await backend_requests(backend_url))[backend_seen:]
    backend_ms = sum(r.get("ms", 0.0) for r in backend if r["path"] == "/process")
    # The two GET /audio of a note run in parallel: count the longer, about half of both.
    backend_ms += sum(r.get("ms", 0.0) for r in backend if r["path"].startswith("/audio/")) / 2
    total_notes = sum(notes)
    mean_backend = backend_ms / max(1, total_notes)
    first, e2e = [], []
    for uid in by_id:
        for n, sent in enumerate(sent_at[uid]):
            mine = replies[uid][n * REPLIES_PER_VOICE_NOTE : (n + 1) * REPLIES_PER_VOICE_NOTE]
            if mine:
                first.append((mine[0] - sent) * 1000)
            if len(mine) == REPLIES_PER_VOICE_NOTE:
                e2e.append((mine[-1] - sent) * 1000)
    expected = {uid: REPLIES_PER_VOICE_NOTE * len(sent_at[uid]) for uid in by_id}
    lost = sum(max(0, expected[u] - len(replies[u])) for u in by_id) // REPLIES_PER_VOICE_NOTE
    doubled = sum(1 for u in by_id if len(replies[u]) > expected[u])
    overhead = [value - mean_backend for value in e2e]
    return table_row(
        f"{learners} closed loop, think {think[0]:g}-{think[1]:g} s",
        notes=total_notes,
        first=first,
        e2e=e2e,
        overhead=overhead,
        cpu_ms={name: sec * 1000 / max(1, len(e2e)) for name, sec in cpu.items()},
        backend_ms=mean_backend,
        rate=len(e2e) / max(1e-9, finished - started),
        lost=lost,
        doubled=doubled,
        redis_per_update=commands / max(1, total_notes),
    )


async def measure(
    levels: list[int],
    rounds: int | None,
    closed_loop: tuple[int, tuple[float, float], float] | None,
    emulator_url: str,
    backend_url: str,
    redis_url: str,
    processes: Processes,
    id_base: int,
) -> list[dict[str, Any]]:
    """One run of the levels and the loop. ``id_base`` keeps each run's learners new: a learner
    of an earlier run already has messages, so its warm-up /start would count as answered at
    once and its reply land inside the timed window (read as a doubled answer)."""
    ogg = encode(synth_wav("I think three trees are there"), "ogg")
    client = AsyncEmulatorClient(emulator_url, timeout=120)
    try:
        rows = [
            await run_level(
                client,
                level,
                rounds or DEFAULT_ROUNDS.get(level, 2),
                ogg,
                backend_url,
                redis_url,
                processes,
                id_base,
            )
            for level in levels
        ]
        if closed_loop:
            learners, think, duration = closed_loop
            rows.append(
                await run_closed_loop(
                    client,
                    learners,
                    think,
                    duration,
                    ogg,
                    backend_url,
                    redis_url,
                    processes,
                    id_base,
                )
            )
        return rows
    finally:
        await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", type=int, nargs="+", default=list(DEFAULT_LEVELS))
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds per level (default varies)"
    )
    parser.add_argument(
        "--learners",
        type=int,
        default=DEFAULT_LEARNERS,
        help="learners practising in a closed loop after the bursts (0: skip)",
    )
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=list(DEFAULT_THINK_SECONDS),
        metavar=("MIN", "MAX"),
        help="seconds between a learner's last reply and their next note",
    )
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION_SECONDS)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=list(DEFAULT_WORKERS),
        help="worker processes beside the one poller; one run per count",
    )
    parser.add_argument(
        "--converters",
        type=int,
        default=DEFAULT_CONVERTERS,
        help="converter processes the bot balances over (the chart runs 2 replicas)",
    )
    args = parser.parse_args()

    redis_port, backend_port = free_port(), free_port()
    converter_ports = [free_port() for _ in range(args.converters)]
    redis_dir = tempfile.mkdtemp(prefix="bench-redis-")
    # As the chart runs Redis: the log is appended to disk every second.
    redis_server = ServiceProcess(
        [shutil.which("redis-server") or "redis-server", "--port", str(redis_port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
         "--dir", redis_dir],
        name="redis", port=redis_port,
    )  # fmt: skip
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    converters = [
        ServiceProcess(
            "phonicflow_converter",
            env={"CONVERTER_LISTEN_ADDRESS": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING"},
            port=port,
        )
        for port in converter_ports
    ]
    # What DNS answers for the chart's headless Service: every converter; the bot balances.
    converter_address = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in converter_ports)
    backend_storage = tempfile.mkdtemp(prefix="bench-backend-")
    backend = ServiceProcess(
        [sys.executable, "-m", "phonicflow_testing.stub_backend", "--port", str(backend_port),
         "--storage", backend_storage],
        name="stub-backend", port=backend_port, startup_timeout=60,
    )  # fmt: skip
    load_before = os.getloadavg()[0]
    backend_url = f"http://127.0.0.1:{backend_port}"
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as started:
        for scratch in (redis_dir, backend_storage):
            started.callback(shutil.rmtree, scratch, ignore_errors=True)
        emulator = started.enter_context(running_emulator())
        for service in (redis_server, *converters, backend):
            started.enter_context(service)
        others = {
            "converter": [psutil.Process(c.pid) for c in converters],
            "emulator": [psutil.Process(emulator.pid)],
            "backend": [psutil.Process(backend.pid)],
            "redis": [psutil.Process(redis_server.pid)],
            "bench": [psutil.Process()],
        }
        closed_loop = (args.learners, (args.think[0], args.think[1]), args.duration)
        # Bursts lift Telegram's flood limit and the per-learner limit, or they would measure
        # those limits; the closed loop runs the bot exactly as shipped.
        Loop = tuple[int, tuple[float, float], float] | None
        phases: list[tuple[list[int], Loop, bool]] = []
        if args.levels:
            phases.append((args.levels, None, True))
        if args.learners:
            phases.append(([], closed_loop, False))
        for workers in args.workers:
            for levels, loop, lifted in phases:
                env = {
                    "TELEGRAM_BOT_TOKEN": emulator.token,
                    "TELEGRAM_API_BASE_URL": emulator.api_base_url,
                    "TELEGRAM_FILE_BASE_URL": emulator.file_base_url,
                    "BACKEND_URL": backend_url,
                    "CONVERTER_ADDRESS": converter_address,
                    "REDIS_URL": redis_url,
                    "BOT_HEALTH_HOST": "127.0.0.1",
                    "LOG_LEVEL": "WARNING",
                    "OTEL_TRACES_EXPORTER": os.environ.get("OTEL_TRACES_EXPORTER", "none"),
                }
                if lifted:
                    env |= {"BOT_OUTGOING_RATE_PER_SECOND": "100000", "BOT_RATE_LIMIT_MPM": "1000"}
                with contextlib.ExitStack() as bot:
                    parts = [bot_process("poller", env)] + [
                        bot_process("worker", env) for _ in range(workers)
                    ]
                    for part in parts:
                        bot.enter_context(part)
                    processes = {
                        "poller": [psutil.Process(parts[0].pid)],
                        "workers": [psutil.Process(w.pid) for w in parts[1:]],
                        **others,
                    }
                    measured = asyncio.run(
                        measure(
                            levels, args.rounds, loop, emulator.url, backend_url, redis_url,
                            processes, 100_000_000 * len(rows),
                        )
                    )  # fmt: skip
                for row in measured:
                    row["workers"] = workers
                rows += measured
    print(f"target: {TARGET}")
    print(f"cores: {os.cpu_count()}; load before run: {load_before:.1f}")
    print(
        "| learners | workers | voice notes | first reply p50 / p99 ms | overhead p50 / p99 ms "
        "| e2e p50 / p99 ms | backend ms | bot CPU ms/note | updates/s | Redis cmds/update "
        "| lost | doubled |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        bot_cpu = r["cpu_ms"]["poller"] + r["cpu_ms"]["workers"]
        print(
            f"| {r['level']} | {r['workers']} | {r['notes']} "
            f"| {r['first_p50']:.0f} / {r['first_p99']:.0f} "
            f"| {r['p50']:.0f} / {r['p99']:.0f} | {r['e2e_p50']:.0f} / {r['e2e_p99']:.0f} "
            f"| {r['backend_ms']:.1f} | {bot_cpu:.1f} | {r['rate']:.1f} "
            f"| {r['redis_per_update']:.0f} | {r['lost']} | {r['doubled']} |"
        )
    print()
    names = list(rows[0]["cpu_ms"]) if rows else []
    print("CPU ms per voice note, by process (all share the same cores):")
    print("| learners | workers | " + " | ".join(names) + " | all |")
    print("|---|---|" + "---|" * (len(names) + 1))
    for r in rows:
        cells = " | ".join(f"{r['cpu_ms'][n]:.1f}" for n in names)
        print(f"| {r['level']} | {r['workers']} | {cells} | {sum(r['cpu_ms'].values()):.1f} |")
    return 1 if any(r["lost"] or r["doubled"] for r in rows) else 0


def bot_process(role: str, env: dict[str, str]) -> ServiceProcess:
    port = free_port()
    return ServiceProcess(
        [sys.executable, "-m", "phonicflow_bot", "--role", role],
        env={**env, "BOT_HEALTH_PORT": str(port)},
        port=port,
        name=f"bot-{role}",
    )


if __name__ == "__main__":
    raise SystemExit(main())
