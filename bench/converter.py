"""Benchmark the audio converter: gRPC ToWav latency and throughput against a real server
process, compared with the in-process decode lower bound and the seed's naive pydub path; the
converter's CPU per bot voice note; and, on request, what the voice-reply encoder settings cost
and how intelligible their output stays.

Usage::

    .venv/bin/python bench/converter.py              # default run, about two minutes on 2 cores
    .venv/bin/python bench/converter.py --reps 3     # three times the repetitions
    .venv/bin/python bench/converter.py --lengths 3 60
    .venv/bin/python bench/converter.py --voice-quality   # encoder settings: CPU, Whisper, spectra

Inputs are Telegram-style voice notes (OGG/Opus 48 kHz mono ~32 kbit/s) of espeak-ng speech
looped to 3, 15, 60 and 300 s; output is WAV PCM16 16 kHz mono, as the bot asks for.

Columns (milliseconds, median unless marked):
- ``rpc p50/p95``: one client, ToWav round trip to ``python -m phonicflow_converter`` on loopback;
- ``decode``: lower bound, PyAV decode + resample to s16/16 kHz/mono in this process, nothing else;
- ``seed``: the seed's way, ``AudioSegment.from_ogg`` + ``set_frame_rate/channels/sample_width``
  + ``export(format="wav")`` (spawns ffprobe and ffmpeg);
- ``2 clients``: conversions per second with two concurrent clients, and the server's peak RSS.

The bot note is what ``bench/bot.py`` makes the converter do per learner message: ToWav of a 2 s
voice note, then ToVoice of the fake backend's two espeak-ng replies (22.05 kHz WAV, 2.07 s and
1.21 s). Its table gives the server's CPU per note (user and system, from psutil), the same
three conversions called in this process (``phonicflow_converter.codec``), and the wall time of
the three RPCs in a row.

``--voice-quality`` encodes English and Brazilian-Portuguese espeak-ng sentences with each
libopus setting in ``VOICE_SETTINGS`` (in this process), then decodes the voice notes and reports
CPU per reply, bitrate, the word error rate of Whisper tiny.en against the sentence text (English
only, with the original WAV's own WER beside it), and the mean log-mel spectral distance to the
original (16 kHz, speech frames only; lower is closer).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import av
import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydub import AudioSegment

from phonicflow.audio.v1 import converter_pb2, converter_pb2_grpc
from phonicflow_converter import codec
from phonicflow_testing import ServiceProcess, free_port
from phonicflow_testing.speech import encode, synth_wav
from phonicflow_testing.voice_notes import speech_note

LENGTHS = (3, 15, 60, 300)
# repetitions per length at --reps 1: (rpc/decode, seed, throughput calls per client)
BASE_REPS = {3: (60, 10, 30), 15: (30, 5, 10), 60: (12, 3, 5), 300: (4, 2, 2)}
MESSAGE_LIMIT = 64 * 1024 * 1024
TARGETS = "RPC p50 ≤ 2× decode on 3 s, ≤ 1.3× on 60 s; ≥ 10× faster than seed on 3 s; RSS < 150 MB"

BOT_NOTE_TEXT = "I think three trees are there"  # bench/bot.py's learner says this
BOT_REPLY_TEXTS = ("Watch the T H sound in think.", "Trees are lovely!")  # the fake backend's
ESPEAK_DEFAULT_WPM = 175  # the fake backend calls espeak-ng without -s
BOT_NOTE_REPS = 60  # notes per measurement at --reps 1
WARM_UP_NOTES = 10

#: libopus settings compared by --voice-quality; the first is what the converter uses.
VOICE_SETTINGS: dict[str, dict[str, str]] = {
    "audio, constrained VBR, complexity 5 (in use)": dict(codec.VOICE_ENCODER_OPTIONS),
    "voip, complexity 5 (until Nov 2026)": {"application": "voip", "compression_level": "5"},
    "voip, complexity 0": {"application": "voip", "compression_level": "0"},
    "audio, unconstrained VBR, complexity 5": {"application": "audio", "compression_level": "5"},
    "audio, constrained VBR, complexity 8": {
        "application": "audio",
        "vbr": "constrained",
        "compression_level": "8",
    },
}
QUALITY_SENTENCES_EN = (
    "Watch the T H sound in think.",
    "Trees are lovely!",
    "I think three thin thieves went through the theatre.",
    "Great job! Your vowels were clear, but watch the final consonant in world.",
    "Try again: she sells sea shells by the sea shore.",
    "Remember, the H in house is breathy, not like an R.",
    "Very good. Now say the sentence a little more slowly.",
    "The weather is nice today, so I will walk to the park.",
    "Could you tell me where the nearest bus station is?",
    "My brother works at a hospital in the city.",
    "Please put the books back on the shelf.",
    "We watched a movie and then had dinner together.",
    "This is the third time I have asked this question.",
    "Her father thought the weather was rather warm.",
    "The children played football in the garden all afternoon.",
    "I would like a cup of coffee with milk, please.",
    "Good morning! How was your weekend?",
    "Say it once more, and stress the second syllable.",
    "Nice work. Your R sound is much better now.",
    "Listen carefully and repeat after me.",
)
QUALITY_SENTENCES_PT = (
    "Muito bem! Preste atenção no som do T H em think.",
    "Tente de novo, devagar, e não acrescente uma vogal no final da palavra.",
    "O H em house é aspirado, não é como o R do português.",
    "Ótimo trabalho. Sua pronúncia está melhorando a cada dia.",
)
QUALITY_RATE = 16000  # what the speech recogniser hears
MEL_BANDS = 40
FFT_SIZE = 512
HOP = 160  # 10 ms at 16 kHz
SPEECH_FLOOR_DB = 50.0  # frames this far below the loudest one count as silence


@dataclass
class Row:
    seconds: int
    rpc: list[float]
    decode: list[float]
    seed: list[float]
    throughput: float
    audio_rate: float
    peak_rss_mb: float
    rpc_cpu: float  # server CPU ms per ToWav, mean (psutil counts in 10 ms ticks)
    decode_cpu: float  # this process's CPU ms per decode, mean


def timed(
    fns: list[tuple[Callable[[], object], Callable[[], float]]], reps: list[int]
) -> tuple[list[list[float]], list[list[float]]]:
    """(wall ms, CPU ms) per call of each ``(function, cpu_clock)``.

    Calls are interleaved (a, b, c, a, b, ...) so that load from other processes on the machine
    hits every method alike; CPU time (the server's, for the RPC) is the load-proof comparison.
    """
    for fn, _ in fns:
        fn()  # warm-up: imports, first connection, codec tables
    wall: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    for rep in range(max(reps)):
        for index, (fn, clock) in enumerate(fns):
            if rep < reps[index]:
                cpu_before = clock()
                started = time.perf_counter()
                fn()
                wall[index].append((time.perf_counter() - started) * 1000)
                cpu[index].append((clock() - cpu_before) * 1000)
    return wall, cpu


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def decode_only(data: bytes) -> int:
    container = av.open(io.BytesIO(data))
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    samples = 0
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            samples += out.samples
    for out in resampler.resample(None):
        samples += out.samples
    container.close()
    return samples


def seed_path(data: bytes) -> bytes:
    segment = AudioSegment.from_ogg(io.BytesIO(data))
    segment = segment.set_frame_rate(16000).set_channels(1).set_sample_width(2)
    out = io.BytesIO()
    segment.export(out, format="wav")
    return out.getvalue()


def serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=1
        )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def throughput(
    stub: converter_pb2_grpc.AudioConverterServiceStub,
    request: converter_pb2.ToWavRequest,
    calls: int,
    server: psutil.Process,
) -> tuple[float, float]:
    """(conversions per second with two clients, peak server RSS in MB while they ran)."""
    peak = server.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.01)

    def client() -> None:
        for _ in range(calls):
            stub.ToWav(request, timeout=120)

    sampler = threading.Thread(target=sample)
    sampler.start()
    clients = [threading.Thread(target=client) for _ in range(2)]
    started = time.perf_counter()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return 2 * calls / elapsed, peak / 2**20


@dataclass
class NoteRun:
    server_user: float  # server CPU ms per note, mean
    server_system: float
    wall: list[float]  # the three RPCs in a row, ms
    in_process: dict[str, list[float]]  # CPU ms per conversion, called in this process


def bot_note(
    stub: converter_pb2_grpc.AudioConverterServiceStub, server: psutil.Process, reps: int
) -> tuple[NoteRun, list[float]]:
    """What the converter spends on one bot voice note; also the replies' lengths in seconds."""
    note = encode(synth_wav(BOT_NOTE_TEXT), "ogg")
    replies = [synth_wav(text, words_per_minute=ESPEAK_DEFAULT_WPM) for text in BOT_REPLY_TEXTS]
    to_wav = converter_pb2.ToWavRequest(audio=note, expected_duration_seconds=2)
    to_voice = [converter_pb2.ToVoiceRequest(audio=reply) for reply in replies]

    def over_grpc() -> None:
        stub.ToWav(to_wav, timeout=30)
        for request in to_voice:
            stub.ToVoice(request, timeout=30)

    calls: dict[str, Callable[[], object]] = {
        "ToWav 2 s note": partial(codec.to_wav, note, expected_duration_seconds=2)
    }
    for reply in replies:
        seconds = codec.to_wav(reply).input.duration_seconds
        calls[f"ToVoice {seconds:.2f} s reply"] = partial(codec.to_voice, reply)
    for _ in range(WARM_UP_NOTES):
        over_grpc()
        for call in calls.values():
            call()
    wall: list[float] = []
    before = server.cpu_times()
    for _ in range(reps):
        started = time.perf_counter()
        over_grpc()
        wall.append((time.perf_counter() - started) * 1000)
    after = server.cpu_times()
    in_process: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            cpu = time.process_time()
            call()
            in_process[name].append((time.process_time() - cpu) * 1000)
    run = NoteRun(
        server_user=(after.user - before.user) * 1000 / reps,
        server_system=(after.system - before.system) * 1000 / reps,
        wall=wall,
        in_process=in_process,
    )
    return run, [codec.to_wav(reply).input.duration_seconds for reply in replies]


def print_bot_note(run: NoteRun) -> None:
    print()
    print("Bot note: ToWav of a 2 s voice note + ToVoice of the fake backend's two replies")
    print("| where | CPU ms per note | of which |")
    print("|---|---|---|")
    total = run.server_user + run.server_system
    print(
        f"| server process, over gRPC | {total:.1f} | user {run.server_user:.1f}, "
        f"system {run.server_system:.1f}; three RPCs in a row: wall p50 "
        f"{statistics.median(run.wall):.1f} ms |"
    )
    parts = {name: statistics.fmean(values) for name, values in run.in_process.items()}
    detail = ", ".join(f"{name} {value:.1f}" for name, value in parts.items())
    print(f"| codec in this process | {sum(parts.values()):.1f} | {detail} |")


def pcm16k(audio: bytes) -> bytes:
    """Any audio as 16 kHz mono PCM16 samples (no header), decoded the way the backend gets it."""
    return codec.to_wav(audio, rate=QUALITY_RATE).wav[44:]


def log_mel(pcm: bytes) -> Any:
    import numpy as np  # only --voice-quality needs it (installed with faster-whisper)

    x = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768
    frames = np.lib.stride_tricks.sliding_window_view(x, FFT_SIZE)[::HOP] * np.hanning(FFT_SIZE)
    power = np.abs(np.fft.rfft(frames)) ** 2
    mel = 2595 * np.log10(1 + np.linspace(0, QUALITY_RATE / 2, power.shape[1]) / 700)
    edges = np.linspace(mel[0], mel[-1], MEL_BANDS + 2)
    bank = np.stack(
        [
            np.clip(
                np.minimum(
                    (mel - edges[i]) / (edges[i + 1] - edges[i]),
                    (edges[i + 2] - mel) / (edges[i + 2] - edges[i + 1]),
                ),
                0,
                None,
            )
            for i in range(MEL_BANDS)
        ]
    )
    return 10 * np.log10(power @ bank.T + 1e-8)


def spectral_distance(reference: bytes, decoded: bytes) -> float:
    """Mean RMS difference in dB between log-mel spectra, over the reference's speech frames."""
    import numpy as np

    a, b = log_mel(reference), log_mel(decoded)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    speech = a.max(axis=1) > a.max() - SPEECH_FLOOR_DB
    return float(np.sqrt(((a[speech] - b[speech]) ** 2).mean(axis=1)).mean())


def words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


def word_errors(expected: str, heard: str) -> int:
    """Levenshtein distance in words."""
    a, b = words(expected), words(heard)
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (x != y))
    return row[-1]


def voice_quality() -> int:
    """Encode espeak-ng sentences with each of VOICE_SETTINGS; print cost and intelligibility."""
    from phonicflow_backend.stt import WhisperSTT

    english = [
        synth_wav(text, words_per_minute=ESPEAK_DEFAULT_WPM) for text in QUALITY_SENTENCES_EN
    ]
    portuguese = [synth_wav(text, voice="pt-br") for text in QUALITY_SENTENCES_PT]
    originals = english + portuguese
    audio_seconds = sum(codec.to_wav(w).input.duration_seconds for w in originals)
    in_use = codec.VOICE_ENCODER_OPTIONS
    encoded: dict[str, tuple[float, list[bytes]]] = {}
    try:
        for name, options in VOICE_SETTINGS.items():
            # to_voice reads the module's setting on every call
            codec.VOICE_ENCODER_OPTIONS = options
            for wav in originals[:3]:
                codec.to_voice(wav)  # warm-up
            cpu = time.process_time()
            notes = [codec.to_voice(wav).ogg_opus for wav in originals]
            per_reply = (time.process_time() - cpu) * 1000 / len(originals)
            encoded[name] = (per_reply, notes)
    finally:
        codec.VOICE_ENCODER_OPTIONS = in_use
    # Whisper is loaded only now: its idle threads would otherwise count in the CPU above.
    stt = WhisperSTT()
    references = [pcm16k(w) for w in originals]
    english_words = sum(len(words(text)) for text in QUALITY_SENTENCES_EN)

    def wer(decoded: list[bytes]) -> float:
        heard = [stt.transcribe(pcm, QUALITY_RATE) for pcm in decoded[: len(english)]]
        errors = sum(word_errors(t, h) for t, h in zip(QUALITY_SENTENCES_EN, heard, strict=True))
        return errors / english_words

    print(
        f"ToVoice of {len(english)} English + {len(portuguese)} pt-BR espeak-ng sentences "
        f"({audio_seconds / len(originals):.1f} s each on average), default 32 kbit/s"
    )
    print(
        f"original WAV: Whisper tiny.en WER {wer(references):.3f} (tiny.en is noisy on espeak-ng: "
        "only differences of several points mean anything)"
    )
    print(
        "| libopus setting | CPU ms per reply | kbit/s | WER (en) "
        "| log-mel distance dB: en / pt-BR |"
    )
    print("|---|---|---|---|---|")
    for name, (per_reply, notes) in encoded.items():
        decoded = [pcm16k(note) for note in notes]
        distances = [spectral_distance(r, d) for r, d in zip(references, decoded, strict=True)]
        kbps = sum(map(len, notes)) * 8 / audio_seconds / 1000
        en = statistics.fmean(distances[: len(english)])
        pt = statistics.fmean(distances[len(english) :])
        print(
            f"| {name} | {per_reply:.1f} | {kbps:.1f} | {wer(decoded):.3f} | {en:.2f} / {pt:.2f} |"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=float, default=1.0, help="multiply the repetitions")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument(
        "--voice-quality",
        action="store_true",
        help="compare libopus settings for voice replies instead (loads Whisper)",
    )
    args = parser.parse_args()
    if args.voice_quality:
        return voice_quality()

    print("making voice notes ...", file=sys.stderr)
    notes = {seconds: speech_note(float(seconds), "ogg") for seconds in args.lengths}
    port = free_port()
    address = f"127.0.0.1:{port}"
    process = ServiceProcess(
        "phonicflow_converter",
        env={"CONVERTER_LISTEN_ADDRESS": address, "LOG_LEVEL": "WARNING"},
        port=port,
        ready=lambda: serving(address),
    )
    rows: list[Row] = []
    with process:
        server = psutil.Process(process.pid)
        options = [
            ("grpc.max_receive_message_length", MESSAGE_LIMIT),
            ("grpc.max_send_message_length", MESSAGE_LIMIT),
        ]
        with grpc.insecure_channel(address, options=options) as channel:
            stub = converter_pb2_grpc.AudioConverterServiceStub(channel)
            print("bot note ...", file=sys.stderr)
            note_run, reply_seconds = bot_note(
                stub, server, max(1, round(BOT_NOTE_REPS * args.reps))
            )
            for seconds in args.lengths:
                data = notes[seconds]
                fast, slow, calls = (
                    max(1, round(n * args.reps)) for n in BASE_REPS.get(seconds, (5, 2, 2))
                )
                print(f"{seconds:>4} s note ...", file=sys.stderr)
                request = converter_pb2.ToWavRequest(audio=data)

                def server_cpu() -> float:
                    times = server.cpu_times()
                    return float(times.user + times.system)

                (rpc, decode, seed), (rpc_cpu, decode_cpu, _) = timed(
                    [
                        (lambda r=request: stub.ToWav(r, timeout=120), server_cpu),
                        (lambda d=data: decode_only(d), time.process_time),
                        (lambda d=data: seed_path(d), time.process_time),
                    ],
                    [fast, fast, slow],
                )
                rate, rss = throughput(stub, request, calls, server)
                rows.append(
                    Row(
                        seconds, rpc, decode, seed, rate, rate * seconds, rss,
                        statistics.fmean(rpc_cpu), statistics.fmean(decode_cpu),
                    )
                )  # fmt: skip

    print()
    load = ", ".join(f"{value:.1f}" for value in psutil.getloadavg())
    print(
        f"ToWav, OGG/Opus 48 kHz mono → WAV 16 kHz mono; ms; {psutil.cpu_count()} CPUs; "
        f"load average at the end {load}"
    )
    print(
        "| note | RPC p50 | RPC p95 | decode lower bound | seed pydub path | RPC / decode "
        "| seed / RPC | 2 clients: conv/s (audio s/s) | server peak RSS "
        "| CPU ms: server per RPC / decode |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        rpc50, dec50, seed50 = (statistics.median(v) for v in (row.rpc, row.decode, row.seed))
        print(
            f"| {row.seconds} s | {rpc50:.1f} | {p(row.rpc, 0.95):.1f} | {dec50:.1f} | "
            f"{seed50:.1f} | {rpc50 / dec50:.2f}× | {seed50 / rpc50:.1f}× | "
            f"{row.throughput:.1f} ({row.audio_rate:.0f}) | {row.peak_rss_mb:.0f} MB | "
            f"{row.rpc_cpu:.1f} / {row.decode_cpu:.1f} |"
        )
    print()
    print(f"targets: {TARGETS}")
    print_bot_note(note_run)
    print(f"(replies: {', '.join(f'{s:.2f} s' for s in reply_seconds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
