"""A clock a test moves by hand: days of practice play out without sleeping.

Usage::

    clock = LocalClock("America/Sao_Paulo", start=date(2026, 11, 30))   # a Monday
    StubBackend(tmp_path, clock=clock)       # the backend stores turns at clock()
    clock.at(day=2, hour=19)                 # Wednesday 19:00 there; returns the UTC moment
    clock()                                  # the current moment (aware, UTC)
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class LocalClock:
    def __init__(self, zone: str, start: date) -> None:
        self.zone = ZoneInfo(zone)
        self.start = start
        self._lock = threading.Lock()  # read by a server thread, moved by the test
        self._moment = self.at(0, 0)

    def __call__(self) -> datetime:
        with self._lock:
            return self._moment

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        """Go to ``day`` days after the start, at local ``hour:minute``; the moment in UTC."""
        local = datetime.combine(self.start + timedelta(days=day), time(hour, minute), self.zone)
        moment = local.astimezone(UTC)
        with self._lock:
            self._moment = moment
        return moment


__all__ = ["LocalClock"]
