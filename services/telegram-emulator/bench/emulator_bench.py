"""How fast the emulator answers: long-poll wake-up, sendMessage, uploads and downloads.

Run: ``.venv/bin/python services/telegram-emulator/bench/emulator_bench.py [--rounds N]``.
Starts its own emulator process; prints median and 95th-percentile wall times.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from phonicflow_emulator.testing import running_emulator

UPLOAD_BYTES = 1024 * 1024


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{name:<38} median {statistics.median(ordered) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms   (n={len(ordered)})"


async def wake_latency(api: str, control: str, rounds: int) -> list[float]:
    """Time from a learner's message to the bot's pending getUpdates answering with it."""
    samples = []
    async with httpx.AsyncClient(timeout=30) as http:
        offset = None
        for i in range(rounds):
            data = {"timeout": "20"} | ({"offset": str(offset)} if offset else {})
            poll = asyncio.create_task(http.post(f"{api}/getUpdates", data=data))
            await asyncio.sleep(0.02)  # let the poll reach the server and start waiting
            started = time.perf_counter()
            await http.post(f"{control}/users/1001/text", json={"text": f"hello {i}"})
            updates = (await poll).json()["result"]
            samples.append(time.perf_counter() - started)
            offset = updates[-1]["update_id"] + 1
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with running_emulator() as emu:
        emu.client.user(1001, first_name="Ana")
        api = f"{emu.api_base_url}{emu.token}"
        control = f"{emu.url}/_emu"
        print(
            summary(
                "getUpdates wake-up (send → answer)",
                asyncio.run(wake_latency(api, control, args.rounds)),
            )
        )
        with httpx.Client(timeout=30) as http:
            sends = []
            for i in range(args.rounds):
                started = time.perf_counter()
                http.post(
                    f"{api}/sendMessage",
                    data={"chat_id": "1001", "text": f"<b>{i}</b>", "parse_mode": "HTML"},
                )
                sends.append(time.perf_counter() - started)
            print(summary("sendMessage (HTML)", sends))
            print(
                f"{'sendMessage throughput':<38} {len(sends) / sum(sends):7.0f} msg/s (one connection)"
            )
            payload = bytes(range(256)) * (UPLOAD_BYTES // 256)
            uploads, downloads = [], []
            for _ in range(max(5, args.rounds // 10)):
                started = time.perf_counter()
                sent = http.post(
                    f"{api}/sendVoice",
                    data={"chat_id": "1001", "duration": "30"},
                    files={"voice": ("v.ogg", payload, "audio/ogg")},
                ).json()["result"]
                uploads.append(time.perf_counter() - started)
                started = time.perf_counter()
                info = http.post(
                    f"{api}/getFile", data={"file_id": sent["voice"]["file_id"]}
                ).json()["result"]
                body = http.get(f"{emu.file_base_url}{emu.token}/{info['file_path']}").content
                downloads.append(time.perf_counter() - started)
                assert body == payload
            print(summary("sendVoice 1 MiB multipart upload", uploads))
            print(summary("getFile + download 1 MiB", downloads))


if __name__ == "__main__":
    main()
