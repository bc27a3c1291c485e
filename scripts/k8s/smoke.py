"""Smoke scenario against a running PhonicFlow stack, through the Telegram emulator.

A learner says /start and gets a welcome; then sends a voice note ("I think this is the right
path") and gets the bot's replies — text feedback and, unless ``--no-voice``, a voice note back.
Used by ``make compose-smoke`` (containers under podman/docker compose) and ``make k8s-e2e``
(the chart on kind, emulator port-forwarded):

    python scripts/k8s/smoke.py --emulator-url http://127.0.0.1:8081 \
        [--wait-ready http://127.0.0.1:8080/readyz] [--timeout 180] [--no-voice]

``--wait-ready`` URLs (repeatable; the bot's /readyz covers Redis, the converter and the
backend's loaded models) must answer 200 before the learner starts, so a stack still loading its
speech models is not mistaken for a broken one.

Exit status 0 when every expectation held, 1 otherwise; every bot message is printed either way.
The voice note is synthesised here with espeak-ng and encoded to OGG/Opus with ffmpeg.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import httpx

from phonicflow_emulator.client import EmulatorClient, EmulatorUser
from phonicflow_testing.speech import encode, synth_wav

#: How long the stack may take to answer the first /start (the backend loads models first).
DEFAULT_TIMEOUT_S = 180.0
#: Between two looks at the chat.
POLL_INTERVAL_S = 1.0
#: A learner id that no other test uses.
LEARNER_ID = 424242
SENTENCE = "I think this is the right path"


def wait_for_ok(url: str, deadline: float) -> None:
    """Until ``url`` answers 2xx; exits naming the URL and the last answer at the deadline."""
    while True:
        try:
            httpx.get(url, timeout=3).raise_for_status()
            return
        except httpx.HTTPError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} never became ready: {exc}") from exc
            time.sleep(POLL_INTERVAL_S)


def wait_until(user: EmulatorUser, seen: int, deadline: float, done: Any) -> list[dict[str, Any]]:
    """Bot messages after the first ``seen``, once ``done(new)`` holds or the deadline passes."""
    new: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        new = user.messages()[seen:]
        if done(new):
            break
        time.sleep(POLL_INTERVAL_S)
    return new


def describe(message: dict[str, Any]) -> str:
    if "voice" in message:
        return f"[voice {message['voice'].get('duration', '?')} s]"
    if "audio" in message:
        return f"[audio {message['audio'].get('duration', '?')} s]"
    return repr((message.get("text") or message.get("caption") or "")[:160])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator-url", default="http://127.0.0.1:8081")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    parser.add_argument("--no-voice", action="store_true", help="do not require a voice reply")
    parser.add_argument("--wait-ready", action="append", default=[], metavar="URL")
    args = parser.parse_args(argv)

    failures: list[str] = []
    started = time.monotonic()
    for url in [args.emulator_url, *args.wait_ready]:
        wait_for_ok(url, started + args.timeout)
    print(f"stack ready in {time.monotonic() - started:.1f} s")
    with EmulatorClient(args.emulator_url) as emu:
        learner = emu.user(LEARNER_ID, first_name="Ana", language_code="pt-br")
        seen = len(learner.messages())

        started = time.monotonic()
        learner.send_text("/start")
        welcome = wait_until(learner, seen, started + args.timeout, lambda new: bool(new))
        print(f"/start -> {len(welcome)} message(s) in {time.monotonic() - started:.1f} s")
        for message in welcome:
            print("   bot:", describe(message))
        if not any(m.get("text") for m in welcome):
            failures.append("no text reply to /start")
        seen += len(welcome)

        note = encode(synth_wav(SENTENCE), "ogg")
        started = time.monotonic()
        learner.send_voice(note, duration=3)

        def answered(new: list[dict[str, Any]]) -> bool:
            has_text = any(m.get("text") or m.get("caption") for m in new)
            has_voice = any("voice" in m or "audio" in m for m in new)
            return has_text and (has_voice or args.no_voice)

        replies = wait_until(learner, seen, started + args.timeout, answered)
        print(f"voice note -> {len(replies)} message(s) in {time.monotonic() - started:.1f} s")
        for message in replies:
            print("   bot:", describe(message))
        if not any(m.get("text") or m.get("caption") for m in replies):
            failures.append("no text feedback on the voice note")
        if not args.no_voice and not any("voice" in m or "audio" in m for m in replies):
            failures.append("no voice reply to the voice note")
        voices = [m for m in replies if "voice" in m]
        if voices:
            size = len(emu.download(voices[0]["voice"]["file_id"]))
            print(f"   the bot's voice note downloads: {size} bytes")
            if size == 0:
                failures.append("the bot's voice note is empty")

    for failure in failures:
        print("SMOKE FAILED:", failure, file=sys.stderr)
    if not failures:
        print("SMOKE PASSED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
