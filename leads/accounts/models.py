"""Who works here: the brokerage's teams (offices), their users and roles, and when each
of them works. What a role may do is ``leads.accounts.permissions``; whether someone is
working at a moment is ``leads.accounts.availability``."""

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


def validate_time_zone(value: str) -> None:
    """An IANA time zone name ("America/Los_Angeles"); blank is allowed where the field is."""
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(f'"{value}" is not a time zone; use a name like "America/Los_Angeles".')


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"


class Team(models.Model):
    """An office (or team) inside the brokerage: its users, its leads, its zone and hours.

    A manager sees the leads of their team; an admin (broker) sees every team's. An
    install with no team works as one team, as before teams existed.
    """

    name = models.CharField(max_length=80, unique=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone], help_text='IANA name, e.g. "America/Chicago".'
    )
    business_hours_sla = models.BooleanField(
        default=False,
        help_text="Count first-contact deadlines in the team's opening hours only (a lead arriving at night is "
        "due after the next opening).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A member of the brokerage; what their role lets them do is ``leads.accounts.permissions``."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="team_members")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone], help_text="Blank: the team's time zone."
    )

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class WorkingHours(models.Model):
    """One stretch of a week when a user works, or when a team is open, in their zone.
    A user or team with no rows is taken as always working."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="working_hours"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()

    class Meta:
        ordering = ["weekday", "starts_at"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="working_hours_end_after_start"),
            models.CheckConstraint(
                condition=Q(user__isnull=False, team__isnull=True) | Q(user__isnull=True, team__isnull=False),
                name="working_hours_of_a_user_or_a_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"


class TimeOff(models.Model):
    """Days a user is away (both dates included, in their zone)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="time_off")
    starts_on = models.DateField()
    ends_on = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_on"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="time_off_ends_on_or_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.starts_on} to {self.ends_on}"
