"""A learner's local time: the zone they give (IANA name or UTC offset), their local day, and
when a local ``HH:MM`` next comes round.

Usage::

    canonical, zone = parse_time_zone("-3")          # ("UTC-03:00", timezone(-3 h))
    parse_time_zone("America/Sao_Paulo")             # ("America/Sao_Paulo", ZoneInfo(...))
    local_day(moment, zone)                          # date in that zone
    next_occurrence("19:00", zone, after=moment)     # the next 19:00 there, as an aware UTC time

Days are counted in the zone the learner has when a note arrives: a learner who moves keeps the
days already counted. IANA zones follow daylight saving (``zoneinfo``, data from the ``tzdata``
package where the system has none).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: ``-3``, ``+05:30``, ``UTC-3``, ``GMT+1``, ``utc+0530``
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
#: Real offsets run from UTC-12 to UTC+14.
_MIN_OFFSET, _MAX_OFFSET = timedelta(hours=-12), timedelta(hours=14)


class InvalidTimeZoneError(ValueError):
    """Neither an IANA zone name nor a UTC offset between -12:00 and +14:00."""


def parse_time_zone(value: str) -> tuple[str, tzinfo]:
    """The canonical spelling to store and the zone; InvalidTimeZoneError otherwise."""
    text = value.strip()
    if text.upper() in ("UTC", "GMT", "Z"):
        return "UTC", UTC
    offset = _OFFSET.match(text)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        signed = -delta if sign == "-" else delta
        if int(minutes or 0) >= 60 or not _MIN_OFFSET <= signed <= _MAX_OFFSET:
            raise InvalidTimeZoneError(f"{value!r} is not a UTC offset between -12:00 and +14:00")
        total = int(delta.total_seconds() // 60)
        canonical = f"UTC{sign}{total // 60:02d}:{total % 60:02d}"
        return canonical, timezone(signed, canonical)
    if not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", text):
        raise InvalidTimeZoneError(f"{value!r} is not a time zone name or a UTC offset")
    name = _zone_names().get(text.lower(), text)  # learners type "america/sao_paulo" too
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimeZoneError(
            f"unknown time zone {value!r}; give a name like America/Sao_Paulo or an offset "
            "like -03:00"
        ) from None


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def zone_or_default(stored: str | None, default: str) -> tuple[str, tzinfo]:
    """The zone a learner's days are counted in: theirs, else the backend's default."""
    for candidate in (stored, default):
        if candidate:
            try:
                return parse_time_zone(candidate)
            except InvalidTimeZoneError:
                continue  # a zone the tz database no longer has: fall back, never fail a note
    return "UTC", UTC


def local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def parse_local_time(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def next_occurrence(local_time: str, zone: tzinfo, *, after: datetime) -> datetime:
    """The first moment strictly after ``after`` when the clock in ``zone`` shows
    ``local_time`` (aware, UTC). In a daylight-saving gap the wall time that does not exist
    is read with the offset before the change, as ``zoneinfo`` does."""
    wall = parse_local_time(local_time)
    day = local_day(after, zone)
    for offset in (0, 1, 2):
        candidate = datetime.combine(day + timedelta(days=offset), wall, tzinfo=zone)
        if candidate.astimezone(UTC) > after:
            return candidate.astimezone(UTC)
    raise AssertionError("a local time comes round within two days")


def week_start(day: date) -> date:
    """The Monday of ``day``'s week (ISO weeks)."""
    return day - timedelta(days=day.weekday())


__all__ = [
    "InvalidTimeZoneError",
    "local_day",
    "next_occurrence",
    "parse_local_time",
    "parse_time_zone",
    "week_start",
    "zone_or_default",
]
