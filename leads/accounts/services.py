"""Writes of a user's own settings: their time zone, weekly hours and time off."""

from datetime import date, time

from django.db import transaction

from leads.errors import NotFound, ValidationFailed
from leads.models import TimeOff, User, WorkingHours


@transaction.atomic
def schedule_save(*, user: User, time_zone: str, week: dict[int, tuple[time, time] | None]) -> None:
    """Set the user's zone ("" for the team's) and their hours: for each weekday given,
    one stretch (start, end) or None for a day off; weekdays not given keep their rows.
    ValidationFailed (field ``hours-<weekday>``) for a stretch that ends before it starts."""
    errors = {
        f"hours-{weekday}": ["The end must be after the start."]
        for weekday, stretch in week.items()
        if stretch is not None and stretch[1] <= stretch[0]
    }
    if errors:
        raise ValidationFailed(fields=errors)
    user.time_zone = time_zone
    user.save(update_fields=["time_zone"])
    WorkingHours.objects.filter(user=user, weekday__in=list(week)).delete()
    WorkingHours.objects.bulk_create(
        WorkingHours(user=user, weekday=weekday, starts_at=start, ends_at=end)
        for weekday, stretch in sorted(week.items())
        if stretch is not None
        for start, end in [stretch]
    )


def time_off_add(*, user: User, starts_on: date, ends_on: date, note: str = "") -> TimeOff:
    """Days off for the user, both dates included; ValidationFailed when they end before they start."""
    if ends_on < starts_on:
        raise ValidationFailed(fields={"ends_on": ["The last day must be on or after the first."]})
    return TimeOff.objects.create(user=user, starts_on=starts_on, ends_on=ends_on, note=note)


def time_off_remove(*, user: User, time_off_id: int) -> None:
    """Remove one of the user's own days off; NotFound for anyone else's."""
    deleted, _ = TimeOff.objects.filter(user=user, pk=time_off_id).delete()
    if not deleted:
        raise NotFound("No such time off.")
