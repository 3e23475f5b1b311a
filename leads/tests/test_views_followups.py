"""The follow-ups page and the dashboard's figures."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.core.followups import snooze_target
from leads.models import FollowUpTask, Lead
from leads.reporting import reports
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def task_for(lead, *, due_in: timedelta, title: str = "Call back", assigned_to=None) -> FollowUpTask:
    return FollowUpTask.objects.create(
        lead=lead, assigned_to=assigned_to or lead.assigned_to, title=title, due_at=timezone.now() + due_in
    )


# --- follow-ups -----------------------------------------------------------------


def test_follow_ups_are_grouped_overdue_today_upcoming(client, agent, other_agent):
    lead = LeadFactory(assigned_to=agent)
    overdue = task_for(lead, due_in=timedelta(hours=-3), title="Overdue call")
    upcoming = task_for(lead, due_in=timedelta(days=3), title="Upcoming call")
    task_for(LeadFactory(assigned_to=other_agent), due_in=timedelta(hours=-1), title="Not mine")
    client.force_login(agent)
    response = client.get(reverse("leads:follow_ups"))
    groups = response.context["groups"]
    assert groups.overdue == [overdue]
    assert groups.upcoming == [upcoming]
    assert "Not mine" not in response.content.decode()


def test_marking_a_follow_up_done_removes_it_from_the_list(client, agent):
    task = task_for(LeadFactory(assigned_to=agent), due_in=timedelta(hours=-1))
    client.force_login(agent)
    response = client.post(reverse("leads:follow_up_done", args=[task.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 303
    task.refresh_from_db()
    assert task.completed_at is not None
    assert client.get(reverse("leads:follow_ups")).context["groups"].is_empty


def test_snoozing_moves_the_due_time(client, agent):
    task = task_for(LeadFactory(assigned_to=agent), due_in=timedelta(hours=-1))
    client.force_login(agent)
    before = timezone.now()
    client.post(reverse("leads:follow_up_snooze", args=[task.pk]), {"until": "hour"})
    task.refresh_from_db()
    assert before + timedelta(minutes=59) < task.due_at < before + timedelta(minutes=61)
    client.post(reverse("leads:follow_up_snooze", args=[task.pk]), {"until": "tomorrow"})
    task.refresh_from_db()
    tomorrow = timezone.localtime(before).date() + timedelta(days=1)
    assert (timezone.localtime(task.due_at).date(), task.due_at.hour, task.due_at.minute) == (tomorrow, 9, 0)


def test_snoozing_to_an_unknown_time_changes_nothing(client, agent):
    task = task_for(LeadFactory(assigned_to=agent), due_in=timedelta(hours=-1))
    due = task.due_at
    client.force_login(agent)
    response = client.post(reverse("leads:follow_up_snooze", args=[task.pk]), {"until": "never"}, follow=True)
    task.refresh_from_db()
    assert task.due_at == due
    assert "is not valid" in response.content.decode()


def test_snooze_tomorrow_is_nine_in_the_morning():
    now = timezone.now().replace(hour=23, minute=30, second=0, microsecond=0)
    target = snooze_target("tomorrow", now=now)
    assert (target - now) == timedelta(hours=9, minutes=30)


def test_managers_see_the_teams_follow_ups_on_request(client, manager, agent):
    task_for(LeadFactory(assigned_to=agent), due_in=timedelta(hours=1), title="Agent task")
    client.force_login(manager)
    assert client.get(reverse("leads:follow_ups")).context["groups"].is_empty
    team = client.get(reverse("leads:follow_ups"), {"scope": "team"})
    assert "Agent task" in team.content.decode()


def test_agents_cannot_see_the_team_scope(client, agent, other_agent):
    task_for(LeadFactory(assigned_to=other_agent), due_in=timedelta(hours=1), title="Theirs")
    client.force_login(agent)
    assert "Theirs" not in client.get(reverse("leads:follow_ups"), {"scope": "team"}).content.decode()


# --- dashboard figures ---------------------------------------------------------------


def make_lead(agent, *, created_ago: timedelta, contacted_after: timedelta | None = None, **fields) -> Lead:
    lead = LeadFactory(assigned_to=agent, **fields)
    created = timezone.now() - created_ago
    contacted = created + contacted_after if contacted_after is not None else None
    Lead.objects.filter(pk=lead.pk).update(created_at=created, first_contacted_at=contacted)
    return Lead.objects.get(pk=lead.pk)


def test_headline_figures(agent, other_agent):
    now = timezone.now()
    make_lead(agent, created_ago=timedelta(minutes=5))  # new today, waiting
    make_lead(agent, created_ago=timedelta(days=40), contacted_after=timedelta(minutes=10), status="closed")
    make_lead(agent, created_ago=timedelta(days=2), contacted_after=timedelta(minutes=30), status="contacted")
    make_lead(agent, created_ago=timedelta(days=3), contacted_after=timedelta(minutes=90), status="contacted")
    make_lead(other_agent, created_ago=timedelta(minutes=1))  # not visible
    task_for(Lead.objects.filter(assigned_to=agent).first(), due_in=timedelta(hours=-1))
    headline = reports.headline(user=agent, now=now)
    assert headline.new_today == 1
    assert headline.waiting_for_first_contact == 1
    assert headline.overdue_follow_ups == 1
    assert headline.median_minutes_to_first_contact == 60.0  # median of 30 and 90 (the 40-day-old is outside)
    assert headline.conversion_rate == 25.0


def test_headline_with_no_leads_shows_no_figures(agent):
    headline = reports.headline(user=agent, now=timezone.now())
    assert headline.median_minutes_to_first_contact is None
    assert headline.conversion_rate is None


def test_chart_series(agent):
    make_lead(agent, created_ago=timedelta(hours=1), score=85, source="zillow")
    make_lead(agent, created_ago=timedelta(days=8), contacted_after=timedelta(minutes=20), score=10, status="contacted")
    make_lead(agent, created_ago=timedelta(days=1), score=None, source="zillow")
    now = timezone.now()
    funnel = reports.status_funnel(user=agent)
    assert funnel["values"][funnel["labels"].index("New")] == 2
    assert sum(funnel["values"]) == 3
    sources = reports.new_leads_by_source(user=agent, now=now)
    assert len(sources["labels"]) == reports.CHART_WEEKS
    zillow = next(dataset for dataset in sources["datasets"] if dataset["label"] == "Zillow")
    assert sum(zillow["data"]) == 2
    scores = reports.score_distribution(user=agent)
    assert scores["values"] == [1, 0, 0, 0, 1]
    assert scores["pending"] == 1
    speed = reports.speed_to_lead_by_week(user=agent, now=now)
    assert [value for value in speed["values"] if value is not None] == [20.0]


def test_agent_table_counts_sla_and_conversions(manager, agent):
    LeadFactory(assigned_to=agent, sla_status="met", status="closed")
    LeadFactory(assigned_to=agent, sla_status="breached")
    LeadFactory(assigned_to=agent)
    rows = {row.agent: row for row in reports.agent_table(user=manager)}
    row = rows[agent]
    assert (row.leads, row.contacted_within_sla, row.sla_decided, row.conversions) == (3, 1, 2, 1)
    assert row.sla_rate == 50.0
    assert reports.agent_table(user=agent) == []


def test_dashboard_queries_do_not_grow_with_leads(client, manager, django_assert_max_num_queries):
    LeadFactory.create_batch(40)
    client.force_login(manager)
    with django_assert_max_num_queries(20):
        assert client.get(reverse("leads:dashboard")).status_code == 200
