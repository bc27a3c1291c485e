"""A learner's week over real HTTP: the real backend app on stub speech engines, its clock
injected (days pass without sleeping), on SQLite and on PostgreSQL. Two senders claim the
reminders at once, as two bot workers would."""

from __future__ import annotations

import concurrent.futures
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from phonicflow_backend.progress_chart import SERIES_KEY, progress_figure
from phonicflow_common.contract import ProcessResponse, ProgressResponse
from phonicflow_testing.backend import new_session, stored_rows
from phonicflow_testing.clock import LocalClock
from phonicflow_testing.stub_backend import StubBackend, tone_wav

USER = 501
backend_transcript = "hello there"  # what the stub engines hear in free speech
MONDAY = date(2026, 11, 30)
WAV = tone_wav(0.5)


@pytest.fixture(scope="module")
def clock() -> LocalClock:
    return LocalClock("America/Sao_Paulo", MONDAY)


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, database: str | None, clock: LocalClock
) -> Iterator[StubBackend]:
    env = {"DATABASE_URL": database} if database else {}
    with StubBackend(tmp_path_factory.mktemp("storage"), env=env, clock=clock) as server:
        yield server


@pytest.fixture(scope="module")
def client(backend: StubBackend) -> Iterator[httpx.Client]:
    with backend.client() as c:
        yield c


class Learner:
    """What the bot does for one learner, step by step."""

    def __init__(self, client: httpx.Client, backend: StubBackend, user_id: int) -> None:
        self.client, self.backend, self.user_id = client, backend, user_id
        self.session = new_session(client, telegram_user_id=user_id, language="pt")

    def settings(self, **change: Any) -> dict[str, Any]:
        response = self.client.patch(f"/learner/{self.user_id}/settings", json=change)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def current_settings(self) -> dict[str, Any]:
        response = self.client.get(f"/learner/{self.user_id}/settings")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def next_drill(self, **query: str) -> dict[str, Any]:
        response = self.client.get(
            "/practice/next", params={"telegram_user_id": self.user_id, **query}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def say(
        self, target: str | None = None, wrong: str | None = None, key: str | None = None
    ) -> ProcessResponse:
        """A voice note (a drill of ``target``); ``wrong``: the error slug the scorer hears."""
        first_word = (target or backend_transcript).split()[0].lower()
        self.backend.engines.errors = {first_word: wrong} if wrong else {}
        # a learner who says the drill: STT hears its sentence (else: not the drill, unscored)
        self.backend.engines.transcript = (target or backend_transcript).lower()
        headers = {"session_id": self.session, **({"Idempotency-Key": key} if key else {})}
        response = self.client.post(
            "/process",
            headers=headers,
            files={"file": ("note.wav", WAV, "audio/wav")},
            data={"target_text": target} if target else None,
        )
        assert response.status_code == 200, response.text
        return ProcessResponse.model_validate_json(response.content)

    def progress(self, now: datetime) -> ProgressResponse:
        response = self.client.get(
            f"/learner/{self.user_id}/progress", params={"now": now.isoformat()}
        )
        assert response.status_code == 200, response.text
        return ProgressResponse.model_validate_json(response.content)


def two_senders_claim(backend: StubBackend, now: datetime) -> list[dict[str, Any]]:
    """Two bot workers poll at the same moment; every reminder either got is reported sent."""

    def sender() -> list[dict[str, Any]]:
        with backend.client() as c:
            got: list[dict[str, Any]] = []
            while batch := c.post(
                "/reminders/claim", json={"now": now.isoformat(), "limit": 2}
            ).json()["reminders"]:
                got += batch
            return got

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = [f.result() for f in [pool.submit(sender), pool.submit(sender)]]
    return [r for batch in results for r in batch]


def report(client: httpx.Client, reminder: dict[str, Any], outcome: str) -> None:
    response = client.post(f"/reminders/{reminder['claim_id']}/outcome", json={"outcome": outcome})
    assert response.status_code == 200, response.text


def sound(progress: ProgressResponse, family: str) -> Any:
    return next(s for s in progress.sounds if s.family == family)


def test_a_simulated_learner_week(
    client: httpx.Client, backend: StubBackend, clock: LocalClock
) -> None:
    clock.at(0, 8)
    learner = Learner(client, backend, USER)
    settings = learner.settings(
        daily_goal=3, reminder_time="19:00", time_zone="America/Sao_Paulo", weekly_summary=True
    )
    assert settings["next_reminder_at"] == "2026-11-30T22:00:00+00:00"  # 19:00 in São Paulo
    sent: list[tuple[str, str, str]] = []  # (local date, kind, outcome)
    done: list[str] = []  # drill sentences, oldest first

    def evening(day: int, outcome: str = "sent") -> list[dict[str, Any]]:
        assert two_senders_claim(backend, clock.at(day, 18, 59)) == [], "not before 19:00"
        claimed = two_senders_claim(backend, clock.at(day, 19, 0))
        for reminder in claimed:
            report(client, reminder, outcome)
            sent.append((reminder["local_date"], reminder["kind"], outcome))
        assert two_senders_claim(backend, clock.at(day, 19, 10)) == [], "nothing twice"
        return claimed

    def drill(wrong: str | None = None, **query: str) -> ProcessResponse:
        item = learner.next_drill(**query)
        assert item["text"] not in done[-4:], "not a sentence drilled recently"
        done.append(item["text"])
        return learner.say(item["text"], wrong)

    # Monday: a new learner's first drill is the first sound; TH goes wrong three times, and
    # the third note meets the goal of 3: no reminder in the evening.
    first = learner.next_drill()
    assert (first["focus"], first["reason"]) == ("th", "not_tried")
    monday = []
    for hour in (9, 10, 11):
        clock.at(0, hour)
        monday.append(drill("th_to_t", focus="th"))
    progress = [n.progress for n in monday]
    assert [p.goal_just_met for p in progress if p] == [False, False, True]
    assert [p.drill.right for p in progress if p and p.drill] == [False, False, False]
    assert evening(0) == []

    # Tuesday: one note; the nudge goes out at 19:00, once, with the day's count and streak.
    clock.at(1, 12)
    drill("th_to_d")
    (tuesday,) = evening(1)
    assert (tuesday["kind"], tuesday["notes_today"], tuesday["streak_days"]) == ("daily", 1, 2)
    assert (tuesday["language"], tuesday["daily_goal"]) == ("pt", 3)

    # Wednesday: nothing; the nudge says so. Thursday morning the streak is gone.
    (wednesday,) = evening(2)
    assert (wednesday["notes_today"], wednesday["streak_days"]) == (0, 2)
    thursday = learner.progress(clock.at(3, 7))
    assert (thursday.streak_days, thursday.practised_today, thursday.weakest) == (0, False, "th")

    # Thursday: four TH drills said right: 4 of the last 5 → mastered, said once; the next
    # drill moves on to a sound not tried yet.
    outcomes = []
    for minute in range(4):
        clock.at(3, 9, minute)
        note = drill()
        assert note.progress is not None and note.progress.drill is not None
        assert note.progress.drill.focus == "th", "the weakest sound until it is mastered"
        outcomes.append(note.progress.drill)
    assert [(o.recent_right, o.mastered, o.newly_mastered) for o in outcomes] == [
        (1, False, False), (2, False, False), (3, False, False), (4, True, True)
    ]  # fmt: skip
    moved_on = learner.next_drill()
    assert (moved_on["focus"], moved_on["reason"]) == ("vowel_insertion", "not_tried")
    assert evening(3) == [], "four notes: the goal is met"

    # Friday: one note, then the nudge bounces: Telegram says the learner blocked the bot.
    clock.at(4, 13)
    drill("vowel_insertion")
    evening(4, outcome="blocked")
    assert learner.current_settings()["blocked"] is True
    # Saturday: blocked, so nothing, although the goal is not met.
    assert evening(5) == []

    # Sunday: they come back; the nudge and the weekly summary go out.
    clock.at(6, 10)
    drill("vowel_insertion")
    assert learner.current_settings()["blocked"] is False
    week = next(r for r in evening(6) if r["kind"] == "weekly")["week"]
    assert (week["week_start"], week["week_end"], week["notes"], week["days_practised"]) == (
        "2026-11-30", "2026-12-06", 10, 5
    )  # fmt: skip
    assert (week["best"]["family"], week["best"]["accuracy"]) == ("th", 0.5)
    assert (week["weakest"]["family"], week["weakest"]["accuracy"]) == ("vowel_insertion", 0.0)

    assert sorted(sent) == [
        ("2026-12-01", "daily", "sent"),
        ("2026-12-02", "daily", "sent"),
        ("2026-12-04", "daily", "blocked"),
        ("2026-12-06", "daily", "sent"),
        ("2026-12-06", "weekly", "sent"),
    ]

    final = learner.progress(clock.at(6, 20))
    assert (final.streak_days, final.total_notes, final.notes_today) == (1, 10, 1)
    th = sound(final, "th")
    assert (th.attempts, th.right, th.mastered, th.accuracy) == (8, 4, True, 0.5)
    assert th.recent == [False] * 4 + [True] * 4
    assert th.trend == "up"
    vowels = sound(final, "vowel_insertion")
    assert (vowels.attempts, vowels.right, vowels.mastered) == (2, 0, False)
    assert final.weakest == "vowel_insertion"


def test_the_progress_picture_shows_what_is_stored(
    client: httpx.Client, backend: StubBackend, clock: LocalClock
) -> None:
    """Read back from the figure's own data and from the PNG that goes to Telegram, and
    compared with the rows in the database (not with the progress code's answer)."""
    clock.at(0, 9)
    learner = Learner(client, backend, USER + 1)
    th_drill = "I think three trees are there"
    for n, day in enumerate((-14, -13, -7, 0, 1)):  # weeks of 16 Nov, 16 Nov, 23 Nov, 30 Nov x2
        clock.at(day, 10)
        learner.say(th_drill, "th_to_t" if n % 2 == 0 else None)
    now = clock.at(1, 20)
    stored: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for row in stored_rows(backend.database_url)["sound_days"]:
        if row["telegram_user_id"] == learner.user_id:
            assert row["family"] == "th"
            day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(row["day"])
            week = stored[day - timedelta(days=day.weekday())]
            week[0] += row["right"]
            week[1] += row["attempts"]

    body = client.get(f"/learner/{learner.user_id}/progress", params={"now": now.isoformat()})
    progress = ProgressResponse.model_validate_json(body.content)
    weeks = [date.fromisoformat(w.week_start) for w in progress.weeks]
    want = [100 * stored[w][0] / stored[w][1] if w in stored else None for w in weeks]
    assert want == [None, 50.0, 0.0, 50.0]

    figure = progress_figure(progress, "pt")
    top, bottom = figure.axes
    (line,) = [ln for ln in top.get_lines() if ln.get_gid() == "accuracy:th"]
    plotted = [None if v != v else float(v) for v in line.get_ydata()]  # NaN: no note that week
    assert plotted == want
    assert [ln.get_gid() for ln in top.get_lines()] == ["accuracy:th"], "only sounds practised"
    bars = [p.get_height() for p in bottom.patches if p.get_gid() == "notes"]
    assert bars == [d.notes for d in progress.days] and sum(bars) == 5
    assert "2 dias seguidos" in figure.get_suptitle()

    png = client.get(f"/learner/{learner.user_id}/progress.png", params={"now": now.isoformat()})
    assert (png.status_code, png.headers["content-type"]) == (200, "image/png")
    Image.open(io.BytesIO(png.content)).verify()
    image = Image.open(io.BytesIO(png.content))
    assert (image.format, image.size) == ("PNG", (800, 600))
    series = json.loads(image.text[SERIES_KEY])  # type: ignore[attr-defined]
    assert series["accuracy"] == {"th": want}
    assert series["notes"] == bars and series["streak_days"] == 2
    english = client.get(f"/learner/{learner.user_id}/progress.png", params={"language": "en"})
    assert english.status_code == 200 and english.content != png.content


def test_settings_and_practice_refuse_bad_input_clearly(client: httpx.Client) -> None:
    user = USER + 2
    new_session(client, telegram_user_id=user)
    for change, code in [
        ({"time_zone": "Atlantis/Capital"}, "invalid_time_zone"),
        ({"time_zone": "+15"}, "invalid_time_zone"),
        ({"reminder_time": "25:00"}, "invalid_request"),
        ({"reminder_time": "7pm"}, "invalid_request"),
        ({"daily_goal": 0}, "invalid_request"),
        ({"daily_goal": "5"}, "invalid_request"),
        ({"colour": "blue"}, "invalid_request"),
    ]:
        response = client.patch(f"/learner/{user}/settings", json=change)
        assert (response.status_code, response.json()["code"]) == (422, code), change
        assert response.json()["detail"]
    assert client.get(f"/learner/{user}/settings").json()["daily_goal"] == 5, "nothing changed"
    assert client.get("/learner/999999/settings").json()["code"] == "unknown_learner"
    assert client.get("/learner/999999/progress").status_code == 404
    assert client.get("/learner/999999/progress.png").status_code == 404
    assert client.get("/learner/999999/export").status_code == 404
    assert client.get("/learner/0/progress").status_code == 422
    response = client.get("/practice/next", params={"telegram_user_id": user, "focus": "xyz"})
    assert (response.status_code, response.json()["code"]) == (422, "unknown_focus")
    response = client.post("/reminders/not-a-claim/outcome", json={"outcome": "sent"})
    assert (response.status_code, response.json()["code"]) == (404, "unknown_claim")
    response = client.post("/reminders/x/outcome", json={"outcome": "lost"})
    assert response.status_code == 422
    assert client.post("/reminders/claim", json={"limit": 0}).status_code == 422


def test_export_then_delete_covers_every_table(
    client: httpx.Client, backend: StubBackend, clock: LocalClock
) -> None:
    user = USER + 3
    clock.at(0, 9)
    learner = Learner(client, backend, user)
    learner.settings(reminder_time="19:00", weekly_summary=True)
    assert client.patch(f"/learner/{user}", json={"label_consent": True}).status_code == 200
    said = learner.say("I think three trees are there", "th_to_f", key="tg-504-1")
    label = {"turn_id": said.turn_id, "word_index": 0, "correction": "said_right"}
    assert client.post(f"/learner/{user}/labels", json=label).status_code == 201
    (reminder,) = [
        r for r in two_senders_claim(backend, clock.at(0, 19)) if r["telegram_user_id"] == user
    ]
    report(client, reminder, "sent")

    export = client.get(f"/learner/{user}/export")
    assert export.status_code == 200
    document = export.json()
    assert document["format"] == "phonicflow-export/1"
    rows = stored_rows(backend.database_url)
    mine = {
        table: [
            r
            for r in table_rows
            if r.get("telegram_user_id") == user or r.get("session_id") == learner.session
        ]
        for table, table_rows in rows.items()
    }
    turn_ids = {r["turn_id"] for r in mine["turns"]}
    mine["turn_audio"] = [r for r in rows["turn_audio"] if r["turn_id"] in turn_ids]
    for table, table_rows in mine.items():
        assert len(document["tables"][table]) == len(table_rows), table
        assert table_rows, f"the scenario leaves rows in {table}"
    assert all(a["bytes"] > 0 for a in document["tables"]["turn_audio"])
    assert {a["kind"] for a in document["tables"]["turn_audio"]} == {
        "coaching", "conversational", "note"
    }  # fmt: skip
    assert document["tables"]["labels"][0]["note_bytes"] > 0
    assert document["tables"]["turns"][0]["pronunciation"]["words"]

    erased = client.delete(f"/learner/{user}").json()
    assert (erased["deleted"], erased["sessions"], erased["turns"], erased["labels"]) == (
        True, 1, 1, 1
    )  # fmt: skip
    assert erased["progress"] == 4  # a practice day, a sound day, a sound, a reminder
    left = stored_rows(backend.database_url)
    for table, table_rows in left.items():
        leftovers = [
            r for r in table_rows
            if r.get("telegram_user_id") == user or r.get("session_id") == learner.session
            or r.get("turn_id") in turn_ids
        ]  # fmt: skip
        assert leftovers == [], table
    assert client.get(f"/learner/{user}/export").status_code == 404


def test_the_week_runs_on_the_same_path_as_production(tmp_path: Path) -> None:
    """No test-only switch: without a clock the app uses the real time."""
    with StubBackend(tmp_path) as server, server.client() as c:
        new_session(c, telegram_user_id=77)
        today = c.get("/learner/77/progress").json()["today"]
    assert abs((date.fromisoformat(today) - date.today()).days) <= 1
