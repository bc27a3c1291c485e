"""A faithful fake of the backend's HTTP contract (docs/backend-api.md), as a real process.

No test uses it any more: the bot's tests run the real backend on stub engines
(``python -m phonicflow_testing.stub_backend``, see services/bot/tests/conftest.py). It stays only as the instant
responder of the bot benchmark (``bench/bot.py``, ``make bench-bot``, docs/benchmarks.md),
whose published numbers assume its ~1-2 ms answers and espeak-ng replies; delete it when the
benchmark moves to the stub backend.

Run: ``python bench/fake_backend.py --port 8000 [--bot-key KEY]``.

It implements every endpoint the bot calls with contract-shaped JSON and real WAV audio
(espeak-ng speech), keeps sessions and turns in memory, and can misbehave on demand through a
control API that tests call over HTTP:

- ``POST /_fake/faults``  ``{"path": "/process", "status": 503, "delay": 0, "times": 1}``
  (``path`` is a prefix; ``times`` -1 = until cleared; ``status`` 0 = only delay)
- ``DELETE /_fake/faults`` — behave again;
- ``POST /_fake/wipe`` — forget every session (as if the backend's storage was wiped);
- ``GET /_fake/requests`` — every request received: method, path, headers of interest
  (``idempotency_key`` among them), form, and ``replayed`` for a ``/process`` answered from a
  stored key.

``POST /process`` honours ``Idempotency-Key`` as docs/backend-api.md says: per session, a
repeat gets the stored answer (``Idempotent-Replayed: true``), a repeat that arrives while the
first is in progress waits for it, a failed first attempt stores nothing, the same key with a
different body is ``422 idempotency_key_reused``, a malformed key ``400``; deleting the session
(or ``/_fake/wipe``) forgets its keys. A delay-only fault on ``/process`` is the backend being
slow *at processing*: the first request of a key claims it before sleeping, so a retry that
arrives meanwhile waits for it, as in the real backend.

Every answer is built through the contract's models (:mod:`phonicflow_common.contract`), so
the fake cannot drift from what the bot parses. The transcript and scores depend only on the
input so tests can assert on them: a WAV turn is
"heard" as ``i tink tree trees are dere`` with a TH→T error ("TH sounded like T") on "think"; a text turn echoes the
text. A drill whose target is another sentence ("Thank you for the thoughtful gift") is not what
was heard: ``drill_match="different_sentence"``, no pronunciation, as the real backend answers. This is a stand-in for the real backend, which the whole-system tests use instead.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import re
import struct
import subprocess
import time
import uuid
import wave
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from phonicflow_common.contract import (
    AudioAvailable,
    CreateSessionResponse,
    DeleteResponse,
    DrillMatch,
    HistoryItem,
    HistoryResponse,
    LearnerDeleted,
    LearnerSession,
    PracticeItem,
    ProcessResponse,
    Pronunciation,
    WordResult,
)

HEARD = "i tink tree trees are dere"
TARGET = "I think three trees are there"
SENTENCES = [
    {"id": "th-01", "text": "I think three trees are there", "focus": "th",
     "hint_en": "Put your tongue between your teeth for TH.",
     "hint_pt": "Coloque a língua entre os dentes para o TH."},
    {"id": "th-02", "text": "Thank you for the thoughtful gift", "focus": "th",
     "hint_en": "TH is not T: let the air flow.", "hint_pt": "TH não é T: deixe o ar passar."},
]  # fmt: skip


def said_the_drill(target: str) -> bool:
    """The fake always hears TARGET said with TH errors: a drill of another sentence (most of
    its words not in TARGET) is answered as the backend answers a note that is not the drill
    sentence, ``drill_match="different_sentence"`` and no pronunciation."""
    words = re.findall(r"\w+", target.casefold())
    said = set(re.findall(r"\w+", TARGET.casefold()))
    return bool(words) and sum(w in said for w in words) >= len(words) / 2


def speech_wav(text: str) -> bytes:
    """Real speech from espeak-ng (fast, ~15 ms); a tone if espeak-ng is missing."""
    try:
        raw = subprocess.run(
            ["espeak-ng", "-v", "en-us", "--stdout", text],
            check=True, capture_output=True, timeout=30,
        ).stdout  # fmt: skip
        with wave.open(io.BytesIO(raw)) as src:
            params, frames = src.getparams(), src.readframes(src.getnframes())
    except (OSError, subprocess.SubprocessError, wave.Error, EOFError):
        params = wave._wave_params(1, 2, 16000, 8000, "NONE", "not compressed")  # type: ignore[attr-defined]
        frames = b"".join(struct.pack("<h", (i % 40) * 500 - 10000) for i in range(8000))
    out = io.BytesIO()
    with wave.open(out, "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames)
    return out.getvalue()


def error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status)


MAX_KEY_LENGTH = 255
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")


def parse_key(value: str | None) -> str | None:
    """The Idempotency-Key as the backend reads it; ValueError when malformed."""
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH or not _PRINTABLE_ASCII.fullmatch(key):
        raise ValueError(key)
    return key


def fingerprint(data: bytes | None, text: str | None, target: str | None) -> str:
    parts = {"file": hashlib.sha256(data).hexdigest() if data is not None else None,
             "text": text or None, "target_text": target or None}  # fmt: skip
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class FakeBackend:
    def __init__(self, bot_key: str | None) -> None:
        self.bot_key = bot_key
        self.sessions: dict[str, dict[str, Any]] = {}
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        # (session id, key) → {"fingerprint", "result"}; and the keys being processed now
        self.keys: dict[tuple[str, str], dict[str, Any]] = {}
        self.in_flight: dict[tuple[str, str], tuple[str, asyncio.Event]] = {}
        self.coaching_wav = speech_wav("Watch the T H sound in think.")
        self.reply_wav = speech_wav("Trees are lovely!")
        self.reference_wav = speech_wav(TARGET)

    async def middleware(self, request: Request) -> Response | None:
        """Record the request, apply faults, check the bot key."""
        path = request.url.path
        if path.startswith("/_fake"):
            return None
        record: dict[str, Any] = {
            "method": request.method,
            "path": path,
            "query": dict(request.query_params),
            "session_id": request.headers.get("session_id"),
            "x_bot_key": request.headers.get("x-bot-key"),
            "traceparent": request.headers.get("traceparent"),
            "idempotency_key": request.headers.get("idempotency-key"),
        }
        self.requests.append(record)
        request.state.record = record
        request.state.delay = 0.0
        for fault in self.faults:
            if path.startswith(fault["path"]) and fault["times"] != 0:
                if fault["times"] > 0:
                    fault["times"] -= 1
                if fault.get("delay") and path == "/process" and not fault.get("status"):
                    request.state.delay = float(fault["delay"])  # slept in process(), see above
                elif fault.get("delay"):
                    await asyncio.sleep(float(fault["delay"]))
                if fault.get("status"):
                    return error(int(fault["status"]), "fault", "injected by the test")
                break
        if path in ("/healthz", "/readyz", "/metrics"):
            return None
        if self.bot_key and request.headers.get("x-bot-key") != self.bot_key:
            return error(401, "bad_bot_key", "missing or wrong X-Bot-Key")
        return None

    def session(self, session_id: str | None) -> dict[str, Any] | None:
        return self.sessions.get(session_id or "")


def build_app(fake: FakeBackend) -> Starlette:
    async def guard(request: Request, handler: Any) -> Response:
        started = time.perf_counter()
        early = await fake.middleware(request)
        if early is not None:
            return early
        response: Response = await handler(request)
        record = getattr(request.state, "record", None)
        if record is not None:
            # How long the backend itself worked on it (the bot benchmark subtracts this).
            record["ms"] = (time.perf_counter() - started) * 1000
        return response

    def route(path: str, methods: list[str]) -> Any:
        def wrap(handler: Any) -> Route:
            async def endpoint(request: Request) -> Response:
                return await guard(request, handler)

            return Route(path, endpoint, methods=methods)

        return wrap

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def create_session(request: Request) -> Response:
        body = await request.json() if await request.body() else {}
        sid = str(uuid.uuid4())
        now = datetime.now(UTC).isoformat()
        fake.sessions[sid] = {"created_at": now, "turns": [], "body": body}
        request.state.record["json"] = body
        answer = CreateSessionResponse(session_id=sid, created_at=now)
        return JSONResponse(answer.model_dump(mode="json"), status_code=201)

    async def process(request: Request) -> Response:
        sid = request.headers.get("session_id")
        session = fake.session(sid)
        form = await request.form()
        upload = form.get("file")
        text = form.get("text")
        target = form.get("target_text")
        record = request.state.record
        record["form"] = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            key = parse_key(request.headers.get("idempotency-key"))
        except ValueError:
            return error(400, "invalid_idempotency_key", "Idempotency-Key: 1-255 printable ASCII")
        if session is None or sid is None:
            return error(404, "unknown_session", f"unknown session {sid}")
        if upload is None and not text:
            return error(422, "missing_input", "neither file nor text")
        data = await upload.read() if upload is not None and not isinstance(upload, str) else None
        delay: float = request.state.delay
        if key is None:
            await asyncio.sleep(delay)
            return make_turn(sid, session, record, data, str(text or ""), str(target or ""))
        slot = (sid, key)
        mine = fingerprint(data, str(text or ""), str(target or ""))
        claimed = slot not in fake.in_flight and slot not in fake.keys
        if claimed:
            fake.in_flight[slot] = (mine, asyncio.Event())
        await asyncio.sleep(delay)
        while not claimed:
            if slot in fake.in_flight:
                theirs, done = fake.in_flight[slot]
                if theirs != mine:
                    return error(422, "idempotency_key_reused", "key used with another body")
                await done.wait()
            elif slot in fake.keys:
                stored = fake.keys[slot]
                if stored["fingerprint"] != mine:
                    return error(422, "idempotency_key_reused", "key used with another body")
                record["replayed"] = True
                return JSONResponse(stored["result"], headers={"Idempotent-Replayed": "true"})
            else:
                fake.in_flight[slot] = (mine, asyncio.Event())
                claimed = True
        try:
            response = make_turn(sid, session, record, data, str(text or ""), str(target or ""))
            if response.status_code == 200 and fake.session(sid) is session:
                fake.keys[slot] = {"fingerprint": mine, "result": json.loads(bytes(response.body))}
            return response
        finally:
            fake.in_flight.pop(slot)[1].set()

    def make_turn(
        sid: str,
        session: dict[str, Any],
        record: dict[str, Any],
        data: bytes | None,
        text: str,
        target: str,
    ) -> JSONResponse:
        pronunciation: Pronunciation | None = None
        drill_match: DrillMatch | None = None
        transcript = text
        if data is not None:
            try:
                with wave.open(io.BytesIO(data)) as wav:
                    record["wav"] = {"rate": wav.getframerate(), "channels": wav.getnchannels(),
                                     "width": wav.getsampwidth(), "frames": wav.getnframes()}  # fmt: skip
            except (wave.Error, EOFError):
                return error(415, "not_wav", "file is not WAV audio")
            transcript = HEARD
            if target and not said_the_drill(target):
                drill_match = "different_sentence"

            def word(
                expected: str,
                heard: str,
                score: float,
                error: str | None = None,
                error_type: str | None = None,
                tip: str = "",
            ) -> WordResult:
                return WordResult(expected=expected, heard=heard, score=score, error=error,
                                  error_type=error_type, expected_phones="", heard_phones="",
                                  start=0.0, end=0.0, tip_en=tip, tip_pt=tip)  # fmt: skip

            pronunciation = (
                None
                if drill_match
                else Pronunciation(
                    overall_score=62.5,
                    words=[
                        word("I", "i", 95.0),
                        word(
                            "think",
                            "tink",
                            35.0,
                            "th_to_t",
                            "substitution",
                            "Tongue between teeth.",
                        ),
                        word("three", "tree", 40.0, "th_to_t", "substitution"),
                        word("trees", "trees", 90.0),
                        word("are", "", 0.0, "omitted", "omission"),
                    ],
                )
            )
        coaching = ('Nice effort! Watch the TH sound in "think" <&>.',
                    'Boa! Cuidado com o som de TH em "think".')  # fmt: skip
        if drill_match:
            coaching = (f"That didn't sound like the sentence \"{target}\". I heard: \"{HEARD}\".",
                        f"Não pareceu a frase \"{target}\". Eu ouvi: \"{HEARD}\".")  # fmt: skip
        elif data is not None and target:
            drill_match = "matched"
        turn_id = str(uuid.uuid4())
        audio_ok = not any(f["path"] == "/audio" and f["times"] != 0 for f in fake.faults)
        result = ProcessResponse(
            session_id=sid,
            turn_id=turn_id,
            user_transcript=transcript,
            coaching_feedback=coaching[0],
            coaching_feedback_portuguese=coaching[1],
            conversational_response=f"You said: {transcript}",
            conversational_response_portuguese=f"Você disse: {transcript}",
            coaching_audio_path=f"/audio/{sid}?audio_type=coaching" if audio_ok else None,
            conversational_audio_path=f"/audio/{sid}?audio_type=conversational",
            target_text=target or None,
            pronunciation=pronunciation,
            audio_available=AudioAvailable(coaching=audio_ok, conversational=True),
            degraded=[],
            timings_ms={"total": 0},
            drill_match=drill_match,
        )
        session["turns"].append(
            HistoryItem(
                user=transcript,
                conversational=result.conversational_response,
                coaching=result.coaching_feedback,
                coaching_portuguese=result.coaching_feedback_portuguese,
                conversational_portuguese=result.conversational_response_portuguese,
                timestamp=datetime.now(UTC).isoformat(),
                turn_id=turn_id,
                score=pronunciation.overall_score if pronunciation else None,
                target_text=target or None,
            ).model_dump(mode="json")
        )
        return JSONResponse(result.model_dump(mode="json"))

    async def conversation(request: Request) -> Response:
        sid = request.path_params["sid"]
        session = fake.session(sid)
        if session is None:
            return error(404, "unknown_session", f"unknown session {sid}")
        if request.method == "DELETE":
            del fake.sessions[sid]
            for slot in [slot for slot in fake.keys if slot[0] == sid]:
                del fake.keys[slot]
            return JSONResponse(DeleteResponse(session_id=sid, deleted=True).model_dump())
        history = HistoryResponse(session_id=sid, history=session["turns"])
        return JSONResponse(history.model_dump(mode="json"))

    def learner_sessions(uid: int) -> list[str]:
        return [sid for sid, s in fake.sessions.items() if s["body"].get("telegram_user_id") == uid]

    async def learner_session(request: Request) -> Response:
        uid = int(request.path_params["uid"])
        mine = learner_sessions(uid)
        if not mine:
            return error(404, "unknown_learner", "no session is stored for this learner")
        sid = mine[-1]  # dicts keep insertion order: the newest session
        session = fake.sessions[sid]
        found = LearnerSession(
            telegram_user_id=uid, session_id=sid, created_at=session["created_at"],
            last_activity=session["turns"][-1]["timestamp"] if session["turns"] else session["created_at"],
            turns=len(session["turns"]), language=session["body"].get("language"),
        )  # fmt: skip
        return JSONResponse(found.model_dump(mode="json"))

    async def delete_learner(request: Request) -> Response:
        uid = int(request.path_params["uid"])
        mine = learner_sessions(uid)
        turns = sum(len(fake.sessions[sid]["turns"]) for sid in mine)
        for sid in mine:
            del fake.sessions[sid]
            for slot in [slot for slot in fake.keys if slot[0] == sid]:
                del fake.keys[slot]
        erased = LearnerDeleted(telegram_user_id=uid, deleted=bool(mine), sessions=len(mine),
                                turns=turns, audio=0)  # fmt: skip
        return JSONResponse(erased.model_dump(mode="json"))

    async def audio(request: Request) -> Response:
        sid = request.path_params["sid"]
        session = fake.session(sid)
        kind = request.query_params.get("audio_type")
        if kind not in ("coaching", "conversational"):
            return error(422, "bad_audio_type", "audio_type must be coaching or conversational")
        if session is None or not session["turns"]:
            return error(404, "unknown_session" if session is None else "no_audio", "no audio")
        wav = fake.coaching_wav if kind == "coaching" else fake.reply_wav
        return Response(wav, media_type="audio/wav")

    async def practice_next(request: Request) -> Response:
        exclude = request.query_params.get("exclude")
        focus = request.query_params.get("focus")
        if focus and focus not in {s["focus"] for s in SENTENCES}:
            return error(422, "unknown_focus", f"unknown focus {focus!r}; use one of th")
        choice = next((s for s in SENTENCES if s["id"] != exclude), SENTENCES[0])
        return JSONResponse(PracticeItem.model_validate(choice).model_dump())

    async def practice_audio(request: Request) -> Response:
        if request.path_params["pid"] not in {s["id"] for s in SENTENCES}:
            return error(404, "unknown_sentence", "no such sentence")
        return Response(fake.reference_wav, media_type="audio/wav")

    async def status(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": "fake", "engines": {}, "uptime_seconds": 1})

    async def add_fault(request: Request) -> Response:
        body = await request.json()
        fake.faults.append({"path": body.get("path", "/"), "status": int(body.get("status", 0)),
                            "delay": float(body.get("delay", 0)), "times": int(body.get("times", 1))})  # fmt: skip
        return JSONResponse({"faults": fake.faults})

    async def clear_faults(request: Request) -> Response:
        fake.faults.clear()
        return JSONResponse({"faults": []})

    async def wipe(request: Request) -> Response:
        fake.sessions.clear()
        fake.keys.clear()
        return JSONResponse({"wiped": True})

    async def requests(request: Request) -> Response:
        return JSONResponse(fake.requests)

    return Starlette(
        routes=[
            route("/healthz", ["GET"])(healthz),
            route("/readyz", ["GET"])(healthz),
            route("/bot/session", ["POST"])(create_session),
            route("/process", ["POST"])(process),
            route("/conversation/{sid}", ["GET", "DELETE"])(conversation),
            route("/audio/{sid}", ["GET"])(audio),
            route("/learner/{uid:int}/session", ["GET"])(learner_session),
            route("/learner/{uid:int}", ["DELETE"])(delete_learner),
            route("/practice/next", ["GET"])(practice_next),
            route("/practice/{pid}/audio", ["GET"])(practice_audio),
            route("/bot/status", ["GET"])(status),
            Route("/_fake/faults", add_fault, methods=["POST"]),
            Route("/_fake/faults", clear_faults, methods=["DELETE"]),
            Route("/_fake/wipe", wipe, methods=["POST"]),
            Route("/_fake/requests", requests, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bot-key", default=None)
    args = parser.parse_args()
    app = build_app(FakeBackend(args.bot_key))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
