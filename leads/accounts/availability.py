"""When people work, in their own time zone: the zone a user sees times in, whether
they are working at a moment (weekly hours, time off), and deadlines counted in
working time ("one working hour after the next opening").

Hours are wall-clock times in the owner's zone, so a shift stays 9:00-17:00 across
daylight-saving changes. A user or team with no hours set is taken as always working
(an install that never set hours behaves as before).
"""

import zoneinfo
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from django.conf import settings

from leads.accounts.models import Team, TimeOff, User, WorkingHours

# A deadline further away than this many days of searching is a schedule with no
# working time at all in reach: fall back to plain elapsed time.
SEARCH_DAYS = 28

Shifts = dict[int, list[tuple[time, time]]]  # weekday (Monday 0) -> [(start, end), ...]


@lru_cache(maxsize=512)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone named ``name``; the site's zone (TIME_ZONE) for a blank or unknown name."""
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def team_zone(team: Team | None) -> zoneinfo.ZoneInfo:
    return zone(team.time_zone if team is not None else "")


def user_zone(user: User | None) -> zoneinfo.ZoneInfo:
    """The zone ``user`` sees times in: their own, else their team's, else the site's."""
    if user is None or not getattr(user, "is_authenticated", False):
        return zone("")
    if user.time_zone:
        return zone(user.time_zone)
    return team_zone(user.team) if user.team_id else zone("")


def shifts(rows: Iterable[WorkingHours]) -> Shifts:
    found: Shifts = {}
    for row in rows:
        found.setdefault(row.weekday, []).append((row.starts_at, row.ends_at))
    return {weekday: sorted(stretches) for weekday, stretches in found.items()}


def user_shifts(user: User) -> Shifts:
    return shifts(WorkingHours.objects.filter(user=user))


def team_shifts(team: Team | None) -> Shifts:
    return shifts(WorkingHours.objects.filter(team=team)) if team is not None else {}


def is_within(hours: Shifts, at: datetime, tz: zoneinfo.ZoneInfo) -> bool:
    """Whether ``at`` falls inside ``hours`` (no hours: always)."""
    if not hours:
        return True
    local = at.astimezone(tz)
    return any(start <= local.time() < end for start, end in hours.get(local.weekday(), []))


def is_on_time_off(user: User, at: datetime, *, days_off: Iterable[TimeOff] | None = None) -> bool:
    """Whether ``at`` is on one of the user's days off (in their zone)."""
    day = at.astimezone(user_zone(user)).date()
    rows = days_off if days_off is not None else TimeOff.objects.filter(user=user, starts_on__lte=day, ends_on__gte=day)
    return any(row.starts_on <= day <= row.ends_on for row in rows)


def is_working(user: User, at: datetime) -> bool:
    """Whether ``user`` is at work at ``at``: active, inside their hours, not on time off."""
    return user.is_active and is_within(user_shifts(user), at, user_zone(user)) and not is_on_time_off(user, at)


def add_working_time(start: datetime, duration: timedelta, *, hours: Shifts, tz: zoneinfo.ZoneInfo) -> datetime:
    """``start`` plus ``duration`` counted only inside ``hours`` (in ``tz``): a lead that
    arrives at 22:00 with one hour to go is due one working hour after the next opening.
    Plain elapsed time when there are no hours (or none within SEARCH_DAYS)."""
    if not hours or duration <= timedelta(0):
        return start + duration
    remaining = duration
    day: date = start.astimezone(tz).date()
    for _ in range(SEARCH_DAYS):
        for opens, closes in hours.get(day.weekday(), []):
            begin = max(_at(day, opens, tz), start)
            end = _at(day, closes, tz)
            if end <= begin:
                continue
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
        day += timedelta(days=1)
    return start + duration


def _at(day: date, wall: time, tz: zoneinfo.ZoneInfo) -> datetime:
    """The instant the clocks in ``tz`` show ``wall`` on ``day``."""
    return datetime.combine(day, wall, tzinfo=tz)


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone, for a select."""
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]
