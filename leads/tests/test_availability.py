"""When people work, in their own zone: weekly hours, time off, the zone a page shows,
and deadlines counted in working time."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from leads.accounts import availability
from leads.accounts.models import Team, TimeOff, WorkingHours, validate_time_zone
from leads.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHICAGO = availability.zone("America/Chicago")
WEEKDAYS_9_TO_5 = {day: [(time(9), time(17))] for day in range(5)}


def test_a_users_zone_is_their_own_else_their_teams_else_the_sites():
    team = Team.objects.create(name="Austin", time_zone="America/Chicago")
    assert availability.user_zone(UserFactory(team=team)).key == "America/Chicago"
    assert availability.user_zone(UserFactory(team=team, time_zone="America/Los_Angeles")).key == "America/Los_Angeles"
    assert availability.user_zone(UserFactory()).key == "UTC"


def test_a_user_works_inside_their_hours_in_their_zone_and_not_on_time_off():
    agent = UserFactory(time_zone="America/Chicago")
    for weekday in range(5):
        WorkingHours.objects.create(user=agent, weekday=weekday, starts_at=time(9), ends_at=time(17))
    TimeOff.objects.create(user=agent, starts_on=date(2026, 12, 24), ends_on=date(2026, 12, 25))

    monday_10_chicago = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 10:00 in Chicago (UTC-6)
    monday_8_chicago = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    saturday_noon = datetime(2026, 12, 12, 18, 0, tzinfo=UTC)
    christmas_eve_10 = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)

    assert availability.is_working(agent, monday_10_chicago)
    assert not availability.is_working(agent, monday_8_chicago)
    assert not availability.is_working(agent, saturday_noon)
    assert not availability.is_working(agent, christmas_eve_10)


def test_someone_who_never_set_hours_is_always_working():
    assert availability.is_working(UserFactory(), datetime(2026, 12, 13, 3, 0, tzinfo=UTC))


def test_an_inactive_user_is_not_working():
    assert not availability.is_working(UserFactory(is_active=False), datetime(2026, 12, 7, 12, 0, tzinfo=UTC))


def test_a_lead_at_22_with_a_one_hour_deadline_is_due_an_hour_after_the_next_opening():
    arrived = datetime(2026, 12, 8, 22, 0, tzinfo=CHICAGO)  # Tuesday night

    due = availability.add_working_time(arrived, timedelta(hours=1), hours=WEEKDAYS_9_TO_5, tz=CHICAGO)

    assert due == datetime(2026, 12, 9, 10, 0, tzinfo=CHICAGO)


def test_working_time_carries_over_the_weekend_and_into_the_next_day():
    friday_4_pm = datetime(2026, 12, 11, 16, 0, tzinfo=CHICAGO)

    due = availability.add_working_time(friday_4_pm, timedelta(hours=3), hours=WEEKDAYS_9_TO_5, tz=CHICAGO)

    assert due == datetime(2026, 12, 14, 11, 0, tzinfo=CHICAGO)  # Monday 11:00


def test_working_time_follows_the_wall_clock_across_a_daylight_saving_change():
    # Sunday 8 March 2026 the clocks in Chicago go forward; Monday still opens at 9:00 local time
    friday_5_pm = datetime(2026, 3, 6, 16, 30, tzinfo=CHICAGO)

    due = availability.add_working_time(friday_5_pm, timedelta(hours=1), hours=WEEKDAYS_9_TO_5, tz=CHICAGO)

    assert due == datetime(2026, 3, 9, 9, 30, tzinfo=CHICAGO)
    assert due.utcoffset() == timedelta(hours=-5)


def test_without_hours_a_deadline_is_plain_elapsed_time():
    start = datetime(2026, 12, 12, 23, 0, tzinfo=UTC)
    assert availability.add_working_time(start, timedelta(minutes=5), hours={}, tz=CHICAGO) == start + timedelta(
        minutes=5
    )


def test_hours_that_end_before_they_start_and_unknown_zones_are_refused():
    agent = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingHours.objects.create(user=agent, weekday=0, starts_at=time(17), ends_at=time(9))
    with pytest.raises(IntegrityError), transaction.atomic():
        TimeOff.objects.create(user=agent, starts_on=date(2026, 12, 5), ends_on=date(2026, 12, 1))
    with pytest.raises(ValidationError, match="not a time zone"):
        validate_time_zone("Mars/Olympus_Mons")
    validate_time_zone("Europe/Paris")
