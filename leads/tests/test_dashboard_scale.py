"""The dashboard's figures, read from counters and recent windows, against direct
counts of the same leads; and a query count that does not grow with agents or leads."""

import statistics
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leads.accounts import permissions
from leads.models import Lead, LeadSource, LeadStatus, Role, SlaStatus
from leads.reporting import reports
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def make_lead(*, agent, status=LeadStatus.NEW, age=timedelta(hours=1), contacted_after=None, archived=False, **fields):
    """A lead that arrived ``age`` ago, first contacted ``contacted_after`` its arrival."""
    lead = LeadFactory(assigned_to=agent, status=status, **fields)
    created_at = timezone.now() - age
    Lead.objects.filter(pk=lead.pk).update(
        created_at=created_at,
        first_contacted_at=created_at + contacted_after if contacted_after is not None else None,
        archived_at=timezone.now() if archived else None,
    )
    return lead


@pytest.fixture
def team(agent, other_agent, manager):
    days, hours, minutes = (
        (lambda n: timedelta(days=n)),
        (lambda n: timedelta(hours=n)),
        (lambda n: timedelta(minutes=n)),
    )
    # agent: one waiting, one new but already reached, contacted and closed ones
    make_lead(agent=agent, age=hours(2), source=LeadSource.ZILLOW)
    make_lead(agent=agent, age=days(3), contacted_after=minutes(12))
    make_lead(
        agent=agent,
        status=LeadStatus.CONTACTED,
        age=days(10),
        contacted_after=minutes(30),
        sla_status=SlaStatus.MET,
        score=85,
    )
    make_lead(
        agent=agent,
        status=LeadStatus.CLOSED,
        age=days(20),
        contacted_after=hours(2),
        sla_status=SlaStatus.BREACHED,
        score=45,
        source=LeadSource.REFERRAL,
    )
    make_lead(
        agent=agent, status=LeadStatus.CLOSED, age=days(200), contacted_after=minutes(5), sla_status=SlaStatus.MET
    )
    # archived leads count nowhere
    make_lead(agent=agent, age=minutes(20), archived=True)
    make_lead(
        agent=agent,
        status=LeadStatus.CLOSED,
        age=days(5),
        contacted_after=minutes(1),
        sla_status=SlaStatus.MET,
        score=99,
        archived=True,
    )
    # the other agent, an unassigned lead
    make_lead(
        agent=other_agent,
        status=LeadStatus.QUALIFIED,
        age=days(25),
        contacted_after=minutes(90),
        sla_status=SlaStatus.BREACHED,
        score=15,
    )
    make_lead(agent=other_agent, age=days(1), score=None)
    make_lead(agent=other_agent, status=LeadStatus.LOST, age=days(100), contacted_after=minutes(3))
    make_lead(agent=None, age=hours(5))
    # someone who is not an active agent has no row in the team table
    UserFactory(username="gone", role=Role.AGENT, is_active=False)
    return agent, other_agent, manager


def dashboard(client, user):
    client.force_login(user)
    response = client.get(reverse("leads:dashboard"))
    assert response.status_code == 200
    return response.context


def live_leads(user):
    leads = Lead.objects.filter(archived_at__isnull=True)
    return leads if permissions.can_view_all_leads(user) else leads.filter(assigned_to=user)


def minutes_to_contact(lead):
    return max(0.0, (lead.first_contacted_at - lead.created_at).total_seconds() / 60)


def expected_weekly(leads, now, value_of):
    """{week index: [values]} for the leads of the chart's weeks."""
    first_week = reports.start_of_week(now) - timedelta(weeks=reports.CHART_WEEKS - 1)
    weeks: dict[int, list] = {}
    for lead in leads.filter(created_at__gte=first_week):
        value = value_of(lead)
        if value is not None:
            weeks.setdefault((lead.created_at - first_week).days // 7, []).append(value)
    return weeks


@pytest.mark.parametrize("role", ["manager", "agent"])
def test_the_figures_match_a_direct_count_of_the_visible_live_leads(client, team, role):
    agent, _other_agent, manager = team
    user = manager if role == "manager" else agent
    now = timezone.now()
    context = dashboard(client, user)
    leads = live_leads(user)

    headline = context["headline"]
    assert headline.new_today == leads.filter(created_at__gte=reports.start_of_day(now)).count()
    assert headline.new_this_week == leads.filter(created_at__gte=reports.start_of_week(now)).count()
    assert (
        headline.waiting_for_first_contact
        == leads.filter(status=LeadStatus.NEW, first_contacted_at__isnull=True).count()
        == (3 if role == "manager" else 1)
    )
    window = leads.filter(created_at__gte=now - timedelta(days=reports.CONVERSION_DAYS))
    closed = window.filter(status=LeadStatus.CLOSED).count()
    assert headline.conversion_rate == round(100 * closed / window.count(), 1)
    recent = leads.filter(
        created_at__gte=now - timedelta(days=reports.SPEED_TO_LEAD_DAYS), first_contacted_at__isnull=False
    )
    assert headline.median_minutes_to_first_contact == round(statistics.median(map(minutes_to_contact, recent)), 1)

    charts = context["charts"]
    assert charts["funnel"]["values"] == [leads.filter(status=status).count() for status in reports.FUNNEL_STATUSES]
    assert sum(charts["funnel"]["values"]) == (9 if role == "manager" else 5)

    weekly_sources = expected_weekly(leads, now, lambda lead: lead.source)
    drawn = {dataset["label"]: dataset["data"] for dataset in charts["sources"]["datasets"]}
    for source, label in LeadSource.choices:
        for index in range(reports.CHART_WEEKS):
            count = weekly_sources.get(index, []).count(source)
            assert drawn.get(label, [0] * reports.CHART_WEEKS)[index] == count, (label, index)

    weekly_speed = expected_weekly(leads, now, lambda lead: lead.first_contacted_at and minutes_to_contact(lead))
    assert charts["speed"]["values"] == [
        round(statistics.median(weekly_speed[index]), 1) if index in weekly_speed else None
        for index in range(reports.CHART_WEEKS)
    ]

    scored = leads.filter(created_at__gte=now - timedelta(days=reports.SCORE_DAYS))
    assert charts["scores"]["values"] == [
        scored.filter(score__gte=low, score__lte=high).count() for low, high in reports.SCORE_BUCKETS
    ]
    assert charts["scores"]["pending"] == scored.filter(score__isnull=True).count()


def test_the_team_table_counts_each_agents_live_leads(client, team):
    agent, other_agent, manager = team
    now = timezone.now()
    rows = {row.agent.username: row for row in dashboard(client, manager)["agent_rows"]}

    assert set(rows) == {agent.username, other_agent.username}  # no manager, no inactive agent
    for user in (agent, other_agent):
        leads = live_leads(manager).filter(assigned_to=user)
        recent = leads.filter(created_at__gte=now - timedelta(days=reports.SLA_DAYS))
        row = rows[user.username]
        assert row.leads == leads.count()
        assert row.conversions == leads.filter(status=LeadStatus.CLOSED).count()
        assert row.contacted_within_sla == recent.filter(sla_status=SlaStatus.MET).count()
        assert row.sla_decided == recent.exclude(sla_status=SlaStatus.PENDING).count()
    # agent: 5 live leads (2 archived left out), 2 closed, of which the archived one is not counted
    assert (rows[agent.username].leads, rows[agent.username].conversions) == (5, 2)
    assert [row.agent for row in dashboard(client, manager)["agent_rows"]] == [agent, other_agent]


def test_an_agent_sees_only_their_own_leads_and_no_team_table(client, team):
    agent, _other_agent, _manager = team
    context = dashboard(client, agent)
    assert context["agent_rows"] == []
    assert "Contacted within SLA" not in client.get(reverse("leads:dashboard")).content.decode()
    # the other agent's qualified lead is not in this agent's pipeline
    funnel = dict(zip(context["charts"]["funnel"]["labels"], context["charts"]["funnel"]["values"], strict=True))
    assert funnel[LeadStatus.QUALIFIED.label] == 0


def test_reassigning_and_archiving_move_the_counts(client, team):
    agent, other_agent, manager = team
    lead = Lead.objects.get(assigned_to=agent, status=LeadStatus.NEW, first_contacted_at=None, archived_at=None)
    Lead.objects.filter(pk=lead.pk).update(assigned_to=other_agent)
    Lead.objects.filter(assigned_to=other_agent, status=LeadStatus.LOST).update(archived_at=timezone.now())

    rows = {row.agent.username: row.leads for row in dashboard(client, manager)["agent_rows"]}
    assert rows == {agent.username: 4, other_agent.username: 3}
    assert dashboard(client, agent)["headline"].waiting_for_first_contact == 0
    assert dashboard(client, other_agent)["headline"].waiting_for_first_contact == 2


@pytest.mark.parametrize("role", ["manager", "agent"])
def test_the_number_of_queries_does_not_grow_with_agents_or_leads(
    client, team, role, django_assert_num_queries, django_assert_max_num_queries
):
    agent, _other_agent, manager = team
    user = manager if role == "manager" else agent
    client.force_login(user)
    client.get(reverse("leads:dashboard"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("leads:dashboard"))
    for index in range(6):
        more = UserFactory(username=f"more{index}", role=Role.AGENT)
        for status in (LeadStatus.NEW, LeadStatus.CLOSED, LeadStatus.CONTACTED):
            make_lead(agent=more, status=status, age=timedelta(days=index), contacted_after=timedelta(minutes=index))
            make_lead(agent=agent, status=status, age=timedelta(days=index + 1))

    with django_assert_num_queries(len(few)):
        response = client.get(reverse("leads:dashboard"))
    assert response.status_code == 200
    with django_assert_max_num_queries(18):
        client.get(reverse("leads:dashboard"))
