"""The activity tallies (migration 0022's triggers) and the leaderboard's activity read
from them: after every kind of write the tallies equal a recount of the interactions,
and the activity over any range, in any viewer's zone, equals counting the
interactions of the range."""

import random
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F
from rest_framework.test import APIClient

from leads.models import ActivityTally, Interaction, InteractionType
from leads.reports.activity import RECOUNT_POSTGRESQL, activity_by_agent_and_type, differences
from leads.reports.filters import parse_filters
from leads.reports.leaderboard import ACTIVITY, leaderboard_report
from leads.tests.factories import InteractionFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

TYPES = [kind.value for kind in InteractionType]


def _tallied() -> dict[tuple[str, date, int, str], int]:
    return {
        (row.span, row.starts_on, row.agent_key, row.type): row.n
        for row in ActivityTally.objects.all()
        if row.n  # rows counted down to zero stay
    }


def _counted(start_at: datetime, end_at: datetime) -> dict[int, dict[str, int]]:
    """The activity by counting the interactions of the range."""
    found: dict[int, dict[str, int]] = {}
    rows = (
        Interaction.objects.filter(occurred_at__gte=start_at, occurred_at__lt=end_at, created_by__isnull=False)
        .filter(type__in=ACTIVITY)
        .values_list("created_by", "type")
        .annotate(n=Count("id"))
        .order_by()
    )
    for agent_id, kind, n in rows:
        found.setdefault(agent_id, {})[kind] = n
    return found


def test_every_kind_of_write_keeps_the_tallies_equal_to_a_recount():
    ann, bob = UserFactory(username="tally_ann"), UserFactory(username="tally_bob")
    lead = LeadFactory(assigned_to=ann)
    other_lead = LeadFactory(assigned_to=bob)
    end_of_march = datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)

    logged = [InteractionFactory(lead=lead, created_by=ann, occurred_at=end_of_march) for _ in range(3)]
    assert differences() == {}
    assert _tallied()["month", date(2026, 3, 1), ann.pk, "call"] == 3

    # Many in one statement (one upsert of the statement's keys on PostgreSQL).
    Interaction.objects.bulk_create(
        Interaction(
            lead=other_lead,
            type=TYPES[number % len(TYPES)],
            summary="bulk",
            created_by=bob if number % 3 else None,
            occurred_at=end_of_march + timedelta(hours=number),
        )
        for number in range(40)
    )
    assert differences() == {}

    moved = logged[0]
    moved.occurred_at = end_of_march + timedelta(seconds=1)  # into April
    moved.save()
    retyped = logged[1]
    retyped.type = InteractionType.SHOWING
    retyped.save()
    handed_over = logged[2]
    handed_over.created_by = bob
    handed_over.save()
    assert differences() == {}
    assert _tallied()["day", date(2026, 4, 1), ann.pk, "call"] == 1

    Interaction.objects.filter(pk=moved.pk).delete()
    Interaction.objects.filter(lead=other_lead, type="email").delete()
    assert differences() == {}

    bob.delete()  # their interactions keep no author: counted out
    assert differences() == {}
    assert not any(key[2] == bob.pk for key in _tallied())

    lead.delete()  # its interactions go with it
    assert _tallied() == {} and differences() == {}


def test_an_interaction_logged_over_the_api_is_tallied():
    agent = UserFactory(username="tally_api_agent")
    lead = LeadFactory(assigned_to=agent)
    client = APIClient()
    client.force_authenticate(agent)

    response = client.post(
        f"/api/v2/leads/{lead.public_id}/interactions",
        {"type": "text", "summary": "Sent the listings", "occurred_at": "2026-11-30T23:30:00-08:00"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert differences() == {}
    assert _tallied() == {
        ("day", date(2026, 12, 1), agent.pk, "text"): 1,
        ("month", date(2026, 12, 1), agent.pk, "text"): 1,
    }


ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham", "Pacific/Kiritimati"]
LENGTHS = [1, 2, 7, 31, 45, 90, 365, 400]


def test_the_activity_of_any_range_in_any_zone_equals_counting_the_interactions():
    rng = random.Random(15)
    agents = [UserFactory(username=f"tally_range_{number}") for number in range(3)]
    leads = [LeadFactory(assigned_to=agent) for agent in agents]
    first = datetime(2025, 1, 1, tzinfo=UTC)
    moments = [first + timedelta(seconds=rng.randrange(0, 600 * 86400)) for _ in range(700)]
    # and on the edges: UTC midnights, firsts of months, the zones' midnights
    moments += [datetime(2025, month, 1, tzinfo=UTC) for month in range(1, 13)]
    moments += [datetime(2025, 6, 15, tzinfo=ZoneInfo(zone)) for zone in ZONES]
    Interaction.objects.bulk_create(
        Interaction(
            lead=leads[number % 3],
            created_by=agents[number % 3] if number % 17 else None,
            type=rng.choice(TYPES),
            summary="range",
            occurred_at=moment,
        )
        for number, moment in enumerate(moments)
    )
    checked = 0
    for zone in ZONES:
        for length in LENGTHS:
            for starts_on in (date(2025, 1, 1), date(2025, 3, 17), date(2025, 6, 1), date(2025, 6, 15)):
                start_at = datetime.combine(starts_on, datetime.min.time(), tzinfo=ZoneInfo(zone))
                end_at = datetime.combine(starts_on + timedelta(days=length), datetime.min.time(), ZoneInfo(zone))
                assert activity_by_agent_and_type(start_at, end_at, ACTIVITY) == _counted(start_at, end_at), (
                    zone,
                    length,
                    starts_on,
                )
                checked += 1
    assert checked == len(ZONES) * len(LENGTHS) * 4


def test_the_leaderboard_reads_a_years_activity_from_the_tallies_in_one_statement(
    manager, django_assert_max_num_queries
):
    agent = UserFactory(username="tally_agent")
    lead = LeadFactory(assigned_to=agent)
    today = date(2026, 12, 5)
    for days_back in (0, 1, 40, 200, 364, 365, 400):
        InteractionFactory(
            lead=lead,
            created_by=agent,
            type="call",
            occurred_at=datetime.combine(today - timedelta(days=days_back), datetime.min.time(), UTC)
            + timedelta(hours=12),
        )
    filters = parse_filters(manager, {"start": (today - timedelta(days=364)).isoformat(), "end": today.isoformat()})

    with django_assert_max_num_queries(5):
        report = leaderboard_report(filters)

    row = next(row for row in report.rows if row["username"] == "tally_agent")
    assert row["calls"] == 5 == _counted(filters.start_at, filters.end_at)[agent.pk]["call"]


@pytest.mark.postgres
def test_on_postgresql_the_recount_from_scratch_gives_what_the_triggers_kept():
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    agent = UserFactory(username="tally_recount_agent")
    lead = LeadFactory(assigned_to=agent)
    for days_back in range(0, 90, 7):
        InteractionFactory(
            lead=lead, created_by=agent, occurred_at=datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days_back)
        )
    kept = _tallied()

    ActivityTally.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(RECOUNT_POSTGRESQL)

    assert _tallied() == kept and differences() == {}


def test_the_command_finds_tallies_that_drifted_and_recounts_them():
    agent = UserFactory(username="tally_command_agent")
    lead = LeadFactory(assigned_to=agent)
    InteractionFactory.create_batch(3, lead=lead, created_by=agent, occurred_at=datetime(2026, 2, 3, tzinfo=UTC))
    call_command("activity_tallies", "--check", stdout=StringIO())

    ActivityTally.objects.filter(span="month").update(n=F("n") + 2)  # as after a restore of another day's copy
    ActivityTally.objects.filter(span="day").delete()  # as after a TRUNCATE the triggers did not see
    out = StringIO()
    with pytest.raises(CommandError, match="2 tallies differ"):
        call_command("activity_tallies", "--check", stdout=out)
    assert f"month of 2026-02-01, agent {agent.pk}, call: tallied 5, actual 3" in out.getvalue()

    call_command("activity_tallies", "--rebuild", stdout=StringIO())

    call_command("activity_tallies", "--check", stdout=StringIO())
    assert _tallied() == {
        ("day", date(2026, 2, 3), agent.pk, "call"): 3,
        ("month", date(2026, 2, 1), agent.pk, "call"): 3,
    }
