"""The rules of progress, as pure functions: which sounds a note exercised, mastery, trend,
streaks, the next sound and sentence to drill, and learners' local time."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from phonicflow_backend import progress
from phonicflow_backend.localtime import (
    InvalidTimeZoneError,
    local_day,
    next_occurrence,
    parse_time_zone,
)
from phonicflow_backend.practice import CATALOGUE
from phonicflow_backend.progress import SoundState
from phonicflow_common.contract import Pronunciation, WordResult


def word(expected: str, phones: str, error: str | None = None) -> WordResult:
    return WordResult(
        expected=expected, heard=expected, score=30.0 if error else 90.0, error=error,
        error_type="omission" if error == "omitted" else ("substitution" if error else None),
        expected_phones=phones, heard_phones="", start=0.0, end=0.1, tip_en="", tip_pt="",
    )  # fmt: skip


def said(*words: WordResult) -> Pronunciation:
    return Pronunciation(overall_score=80.0, words=list(words))


class TestWhatANoteSays:
    def test_a_th_error_is_a_wrong_th_and_other_sounds_the_words_carry_are_right(self) -> None:
        note = progress.sounds_of(
            said(word("think", "TH IH NG K", "th_to_t"), word("trees", "T R IY Z")), None
        )
        assert note.sounds["th"] is False
        assert note.sounds["final_s_ed"] is True  # "trees" could have lost its -s: it did not
        assert note.sounds["i_ih"] is True
        assert "h_r" not in note.sounds  # no word of this note starts with h or r
        assert note.drill_focus is None

    def test_a_drill_always_exercises_its_sound_even_when_no_phones_are_known(self) -> None:
        item = CATALOGUE["h-r-01"]
        note = progress.sounds_of(
            said(*(word(w, "") for w in item.text.split())), item.text.upper()
        )
        assert (note.drill_focus, note.sounds) == ("h_r", {"h_r": True})

    def test_an_omitted_word_is_no_attempt_and_an_unscored_note_exercises_nothing(self) -> None:
        assert progress.sounds_of(said(word("three", "TH R IY", "omitted")), None).sounds == {}
        drill = CATALOGUE["th-01"].text
        assert progress.sounds_of(None, drill) == progress.NoteSounds({}, None)

    def test_error_slugs_map_to_their_families(self) -> None:
        assert [progress.family_of(s) for s in ("th_to_d", "th_to_z", "r_as_h", "omitted", None)] == [
            "th", "th", "h_r", None, None
        ]  # fmt: skip


class TestMasteryAndTrend:
    def test_four_of_the_last_five_right_is_mastered_and_one_slip_does_not_undo_it(
        self,
    ) -> None:
        recent = ""
        states = []
        for right in (False, True, True, True, True, False, False, False):
            recent = progress.push(recent, right)
            was = bool(states and states[-1])
            states.append(progress.is_mastered(recent, was_mastered=was))
        # 4 right in the last 5 at the fifth note; kept at 3 of 5; lost at 2 of 5
        assert states == [False, False, False, False, True, True, True, False]

    def test_only_the_last_outcomes_are_kept(self) -> None:
        recent = ""
        for i in range(25):
            recent = progress.push(recent, i % 2 == 0)
        assert len(recent) == progress.RECENT

    @pytest.mark.parametrize(
        ("recent", "expected"),
        [("11", "new"), ("0000011111", "up"), ("1111100000", "down"), ("1010110101", "steady")],
    )
    def test_trend_compares_the_last_five_notes_with_those_before(
        self, recent: str, expected: str
    ) -> None:
        assert progress.trend(recent) == expected


class TestStreak:
    MONDAY = date(2026, 11, 30)

    def days(self, *offsets: int) -> set[date]:
        return {self.MONDAY + timedelta(days=n) for n in offsets}

    def test_consecutive_days_up_to_today(self) -> None:
        assert progress.streak(self.days(0, 1, 2), self.MONDAY + timedelta(days=2)) == (3, True)

    def test_a_streak_survives_the_morning_of_a_day_without_a_note_yet(self) -> None:
        assert progress.streak(self.days(0, 1, 2), self.MONDAY + timedelta(days=3)) == (3, False)

    def test_a_whole_day_without_a_note_ends_it(self) -> None:
        assert progress.streak(self.days(0, 1, 2), self.MONDAY + timedelta(days=4)) == (0, False)
        assert progress.streak(self.days(0, 2, 3), self.MONDAY + timedelta(days=3)) == (2, True)


class TestWhatToDrillNext:
    def test_the_tried_sound_with_the_most_errors_comes_first(self) -> None:
        states = {
            "th": SoundState(5, "00101", False),
            "h_r": SoundState(4, "0001", False),
            "i_ih": SoundState(5, "11111", True),
        }
        assert progress.weakest(states) == ("h_r", "weakest")

    def test_then_sounds_never_tried_before_tried_ones_going_well(self) -> None:
        states = {f: SoundState(3, "111", False) for f in progress.FAMILIES}
        del states["i_ih"]
        assert progress.weakest(states) == ("i_ih", "not_tried")
        assert progress.weakest({}) == (progress.FAMILIES[0], "not_tried")

    def test_a_mastered_sound_is_left_for_the_others(self) -> None:
        states = {f: SoundState(5, "11111", True) for f in progress.FAMILIES}
        states["final_s_ed"] = SoundState(5, "11110", False)
        assert progress.weakest(states) == ("final_s_ed", "weakest")

    def test_with_every_sound_mastered_the_weakest_is_reviewed(self) -> None:
        states = {f: SoundState(5, "11111", True) for f in progress.FAMILIES}
        states["h_r"] = SoundState(5, "10111", True)
        assert progress.weakest(states) == ("h_r", "review")

    def test_a_sentence_not_drilled_recently_and_the_oldest_when_all_were(self) -> None:
        th = [i for i in CATALOGUE.values() if i.focus == "th"]
        recent = [i.text for i in th[:-1]]  # newest first: th[0] is the newest
        for seed in range(5):
            assert progress.pick_item("th", recent, rng=random.Random(seed)) == th[-1]
        everything = [i.text for i in th]
        assert progress.pick_item("th", everything) == th[-1]  # done longest ago
        assert progress.pick_item("th", everything, exclude=th[-1].id) == th[-2]


class TestLocalTime:
    @pytest.mark.parametrize(
        ("given", "canonical"),
        [("-3", "UTC-03:00"), ("UTC+5:30", "UTC+05:30"), ("gmt-0300", "UTC-03:00"),
         ("america/sao_paulo", "America/Sao_Paulo"), ("utc", "UTC"), ("+14", "UTC+14:00")],
    )  # fmt: skip
    def test_names_and_offsets_learners_type(self, given: str, canonical: str) -> None:
        assert parse_time_zone(given)[0] == canonical

    @pytest.mark.parametrize(
        "given", ["-13", "+15", "Mars/Olympus", "../../etc/passwd", "", "19:00"]
    )
    def test_anything_else_is_refused_with_a_reason(self, given: str) -> None:
        with pytest.raises(InvalidTimeZoneError, match=r"time zone|offset"):
            parse_time_zone(given)

    def test_the_next_local_time_in_a_zone_with_daylight_saving(self) -> None:
        new_york = ZoneInfo("America/New_York")
        before = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # the day before clocks go forward
        first = next_occurrence("19:00", new_york, after=before)
        second = next_occurrence("19:00", new_york, after=first)
        assert (first.hour, second.hour) == (0, 23)  # 19:00 EST = 00 UTC, 19:00 EDT = 23 UTC
        assert local_day(second, new_york) == date(2026, 3, 8)

    def test_a_time_already_past_today_is_tomorrow(self) -> None:
        _, zone = parse_time_zone("-03:00")
        at_19_30 = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
        assert next_occurrence("19:00", zone, after=at_19_30) == datetime(
            2026, 12, 2, 22, 0, tzinfo=UTC
        )
