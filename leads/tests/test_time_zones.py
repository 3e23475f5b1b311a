"""Times in the viewer's zone, with the zone shown; a user's own zone, hours and time off;
first-contact deadlines in business hours when the team chooses them."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse

from integrations.workflows.services import first_contact_due, start_for_leads
from leads.models import FollowUpTask, Lead, Role, Team, TimeOff, WorkingHours
from leads.tests.factories import FollowUpTaskFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

SETTINGS = reverse("leads:settings")


def test_a_californian_agent_reads_the_deadline_in_pacific_time(client):
    # given an agent in Los Angeles and a follow-up due at 16:00 UTC
    agent = UserFactory(username="west_coast", time_zone="America/Los_Angeles")
    lead = LeadFactory(assigned_to=agent)
    FollowUpTaskFactory(lead=lead, assigned_to=agent, due_at=datetime(2026, 12, 10, 16, 0, tzinfo=UTC))
    client.force_login(agent)

    # when they open the lead and their follow-ups
    page = client.get(reverse("leads:lead_detail", args=[lead.public_id])).content.decode()
    follow_ups = client.get(reverse("leads:follow_ups")).content.decode()

    # then 16:00 UTC reads as 08:00, with the zone named
    assert "Dec 10, 08:00 PST" in page
    assert "Dec 10, 08:00 PST" in follow_ups
    assert "16:00" not in follow_ups


def test_a_user_without_a_zone_of_their_own_sees_their_teams(client):
    team = Team.objects.create(name="Chicago office", time_zone="America/Chicago")
    agent = UserFactory(team=team)
    lead = LeadFactory(assigned_to=agent)
    FollowUpTaskFactory(lead=lead, assigned_to=agent, due_at=datetime(2026, 12, 10, 16, 0, tzinfo=UTC))
    client.force_login(agent)

    assert "Dec 10, 10:00 CST" in client.get(reverse("leads:follow_ups")).content.decode()


def test_the_api_keeps_utc_whoever_asks(api_client):
    agent = UserFactory(time_zone="Asia/Tokyo")
    lead = LeadFactory(assigned_to=agent)

    body = api_client(agent).get(f"/api/v2/leads/{lead.public_id}").json()

    assert body["lead"]["created_at"].endswith("Z")


def test_an_agent_sets_their_zone_and_hours_and_sees_the_pages_in_it(client):
    agent = UserFactory()
    client.force_login(agent)
    form = {"time_zone": "Europe/Paris", "start_0": "09:00", "end_0": "17:30", "start_5": "", "end_5": ""}

    response = client.post(SETTINGS, form)

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.time_zone == "Europe/Paris"
    assert list(WorkingHours.objects.filter(user=agent).values_list("weekday", "starts_at", "ends_at")) == [
        (0, time(9), time(17, 30))
    ]
    assert "Paris" in client.get(SETTINGS).content.decode()


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"start_2": "17:00", "end_2": "09:00"}, "end_2", "The end must be after the start."),
        ({"start_2": "09:00", "end_2": ""}, "end_2", "Give both times for Wednesday"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Select a valid choice"),
        ({"start_1": "25:99", "end_1": "26:00"}, "start_1", "Enter a valid time"),
    ],
)
def test_bad_hours_get_a_field_error_and_change_nothing(client, form, field, message):
    agent = UserFactory(time_zone="America/Denver")
    client.force_login(agent)

    response = client.post(SETTINGS, form)

    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors[field])
    agent.refresh_from_db()
    assert agent.time_zone == "America/Denver"
    assert not WorkingHours.objects.filter(user=agent).exists()


def test_time_off_is_added_checked_and_removed_only_by_its_owner(client):
    agent, other = UserFactory(), UserFactory()
    client.force_login(agent)

    backwards = client.post(reverse("leads:time_off_add"), {"starts_on": "2026-12-24", "ends_on": "2026-12-20"})
    added = client.post(reverse("leads:time_off_add"), {"starts_on": "2026-12-24", "ends_on": "2026-12-26"})

    assert backwards.status_code == 422
    assert added.status_code == 302
    days_off = TimeOff.objects.get(user=agent)
    assert (days_off.starts_on, days_off.ends_on) == (date(2026, 12, 24), date(2026, 12, 26))
    others = TimeOff.objects.create(user=other, starts_on=date(2027, 1, 2), ends_on=date(2027, 1, 3))
    assert client.post(reverse("leads:time_off_delete", args=[others.pk])).status_code == 404
    assert client.post(reverse("leads:time_off_delete", args=[days_off.pk])).status_code == 302
    assert list(TimeOff.objects.values_list("user", flat=True)) == [other.pk]


def test_a_business_hours_team_gives_a_night_lead_one_working_hour_after_opening():
    # given a team open 9-17 on weekdays in Chicago, with business-hours SLAs
    team = Team.objects.create(name="Chicago", time_zone="America/Chicago", business_hours_sla=True)
    for weekday in range(5):
        WorkingHours.objects.create(team=team, weekday=weekday, starts_at=time(9), ends_at=time(17))
    agent = UserFactory(role=Role.AGENT, team=team, email="agent@example.com")
    # when a high-urgency lead (1 hour SLA) arrives at 22:00 on a Tuesday
    arrived = datetime(2026, 12, 9, 4, 0, tzinfo=UTC)  # Tue 22:00 in Chicago
    lead = LeadFactory(assigned_to=agent, team=team, timeline__urgency_level="high")
    Lead.objects.filter(pk=lead.pk).update(created_at=arrived)  # created_at is set on insert
    start_for_leads([(lead.pk, "created")])

    # then it is due at 10:00 on Wednesday, Chicago time
    due = FollowUpTask.objects.get(lead=lead).due_at
    assert due == datetime(2026, 12, 9, 16, 0, tzinfo=UTC)
    lead.refresh_from_db()
    assert lead.sla_due_at == due


def test_without_business_hours_the_deadline_is_elapsed_time():
    lead = LeadFactory(timeline__urgency_level="high")
    assert first_contact_due(lead) == lead.created_at + timedelta(hours=1)
