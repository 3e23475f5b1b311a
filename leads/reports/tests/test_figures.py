"""Every report's figures against a plain computation over the same rows (Python over
ORM objects, no aggregation in SQL), for a manager (everyone) and an agent (their own),
with filters; and the number of queries each report costs, pinned."""

import itertools
import statistics
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.deals.models import Deal, DealStage, SourceSpend
from leads.models import Interaction, Lead, LeadSource, LeadStatus, SlaStatus
from leads.reports.filters import parse_filters
from leads.reports.funnel import PIPELINE, funnel_report
from leads.reports.leaderboard import leaderboard_report
from leads.reports.roi import roi_report
from leads.reports.stages import STAGES, stages_report, stuck_leads
from leads.reports.tests.world import build_world

pytestmark = pytest.mark.django_db

RANK = {status.value: index for index, status in enumerate(PIPELINE)}


@pytest.fixture
def world():
    return build_world()


def _cohort(world, filters):
    leads = [
        lead
        for lead in Lead.objects.filter(pk__in=[lead.pk for lead in world.leads]).prefetch_related("status_changes")
        if filters.start_at <= lead.created_at < filters.end_at
    ]
    if filters.source:
        leads = [lead for lead in leads if lead.source == filters.source]
    if filters.lead_type:
        leads = [lead for lead in leads if lead.lead_type == filters.lead_type]
    if filters.agent is not None:
        leads = [lead for lead in leads if lead.assigned_to_id == filters.agent.pk]
    if not filters.is_manager:
        leads = [lead for lead in leads if lead.assigned_to_id == filters.user.pk]
    return leads


def _params(world, **extra):
    return {"start": world.start.isoformat(), "end": world.end.isoformat(), **extra}


FILTER_CASES = [{}, {"source": "zillow"}, {"lead_type": "seller"}, {"agent": "rep_ann"}]


@pytest.mark.parametrize("extra", FILTER_CASES)
def test_funnel_counts_the_leads_that_reached_each_stage(world, manager, extra, django_assert_max_num_queries):
    filters = parse_filters(manager, _params(world, **extra))

    with django_assert_max_num_queries(2):
        report = funnel_report(filters)

    highest = [
        max([RANK.get(change.to_status, 0) for change in lead.status_changes.all()] + [RANK.get(lead.status, 0)])
        for lead in _cohort(world, filters)
    ]
    expected = [sum(1 for value in highest if value >= index) for index in range(len(PIPELINE))]
    assert [row["reached"] for row in report.rows] == expected
    assert expected[0] > 0
    for index in range(1, len(PIPELINE)):
        previous = expected[index - 1]
        assert report.rows[index]["from_previous"] == (round(100 * expected[index] / previous, 1) if previous else None)
    assert sum(row[LeadStatus.NEW.value] for row in report.extra["breakdown"]) == expected[0]


def test_funnel_by_agent_splits_the_same_leads(world, manager):
    filters = parse_filters(manager, _params(world))

    report = funnel_report(filters, by="agent")

    groups = {row["group"]: row["new"] for row in report.extra["breakdown"]}
    cohort = _cohort(world, filters)
    for agent in world.agents:
        assert groups[str(agent)] == sum(1 for lead in cohort if lead.assigned_to_id == agent.pk)
    assert groups.get("Unassigned", 0) == sum(1 for lead in cohort if lead.assigned_to_id is None)


@pytest.mark.parametrize("extra", FILTER_CASES)
def test_source_roi_matches_leads_deals_and_spend(world, manager, extra, django_assert_max_num_queries):
    filters = parse_filters(manager, _params(world, **extra))

    with django_assert_max_num_queries(3):
        report = roi_report(filters)

    cohort = _cohort(world, filters)
    deals = [
        deal
        for deal in Deal.objects.select_related("lead")
        if deal.stage == DealStage.CLOSED
        and filters.start <= deal.closed_on <= filters.end
        and (not filters.source or deal.lead.source == filters.source)
        and (not filters.lead_type or deal.lead.lead_type == filters.lead_type)
        and (filters.agent is None or deal.lead.assigned_to_id == filters.agent.pk)
    ]

    def share(month):  # the days of the month in the range, over the days of the month
        days = [month + timedelta(days=n) for n in range(31) if (month + timedelta(days=n)).month == month.month]
        return Decimal(sum(1 for day in days if filters.start <= day <= filters.end)) / len(days)

    spend = [
        (row, row.amount * share(row.month))
        for row in SourceSpend.objects.all()
        if not filters.source or row.source == filters.source
    ]
    rows = {row["source"]: row for row in report.rows}
    for source in {lead.source for lead in cohort} | {deal.lead.source for deal in deals}:
        row = rows[LeadSource(source).label]
        leads = [lead for lead in cohort if lead.source == source]
        contacted = [lead for lead in leads if lead.first_contacted_at is not None]
        closed = [deal for deal in deals if deal.lead.source == source]
        commission = sum((deal.gross_commission * deal.team_split / 100 for deal in closed), Decimal("0"))
        spent = sum((part for item, part in spend if item.source == source), Decimal("0")).quantize(Decimal("0.01"))
        assert row["leads"] == len(leads)
        assert row["contacted_rate"] == (round(100 * len(contacted) / len(leads), 1) if leads else None)
        assert row["closed"] == len(closed)
        assert row["commission"] == commission.quantize(Decimal("0.01"))
        assert row["spend"] == spent
        assert row["cost_per_lead"] == ((spent / len(leads)).quantize(Decimal("0.01")) if leads and spent else None)
        assert row["cost_per_close"] == ((spent / len(closed)).quantize(Decimal("0.01")) if closed and spent else None)
        assert row["roi"] == ((commission / spent).quantize(Decimal("0.01")) if spent else None)


def test_agents_see_no_spend_and_only_their_own_leads(world):
    ann = world.agents[0]
    filters = parse_filters(ann, _params(world))

    report = roi_report(filters)

    assert sum(row["leads"] for row in report.rows) == len(_cohort(world, filters))
    assert all(row["spend"] is None and row["roi"] is None for row in report.rows)


def _p90(values):
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


@pytest.mark.parametrize("extra", FILTER_CASES)
def test_leaderboard_matches_each_agents_leads_activity_and_deals(world, manager, extra, django_assert_max_num_queries):
    filters = parse_filters(manager, _params(world, **extra))

    with django_assert_max_num_queries(5):
        report = leaderboard_report(filters)

    rows = {row["username"]: row for row in report.rows}
    cohort = _cohort(world, filters)
    scope = {
        lead.pk
        for lead in world.leads
        if (not filters.source or lead.source == filters.source)
        and (not filters.lead_type or lead.lead_type == filters.lead_type)
        and (filters.agent is None or lead.assigned_to_id == filters.agent.pk)
    }
    for agent in world.agents:
        if filters.agent is not None and agent != filters.agent:
            assert agent.username not in rows
            continue
        row = rows[agent.username]
        theirs = [lead for lead in cohort if lead.assigned_to_id == agent.pk]
        minutes = [
            max(0.0, (lead.first_contacted_at - lead.created_at).total_seconds() / 60)
            for lead in theirs
            if lead.first_contacted_at
        ]
        met = sum(1 for lead in theirs if lead.sla_status == SlaStatus.MET)
        decided = sum(1 for lead in theirs if lead.sla_status in (SlaStatus.MET, SlaStatus.BREACHED))
        interactions = [
            item
            for item in Interaction.objects.filter(created_by=agent)
            if filters.start_at <= item.occurred_at < filters.end_at and item.lead_id in scope
        ]
        deals = [
            deal
            for deal in Deal.objects.filter(agent=agent, stage=DealStage.CLOSED)
            if filters.start <= deal.closed_on <= filters.end and deal.lead_id in scope
        ]
        assert row["new_leads"] == len(theirs)
        assert row["median_minutes"] == (round(statistics.median(minutes), 1) if minutes else None)
        assert row["p90_minutes"] == (pytest.approx(round(_p90(minutes), 1), abs=0.051) if minutes else None)
        assert row["sla_rate"] == (round(100 * met / decided, 1) if decided else None)
        for kind in ("call", "text", "email", "showing"):
            assert row[kind + "s"] == sum(1 for item in interactions if item.type == kind)
        assert row["conversions"] == len(deals)
        assert row["commission"] == sum((deal.team_commission for deal in deals), Decimal("0"))


def test_an_agent_sees_only_their_own_row(world):
    ann = world.agents[0]

    report = leaderboard_report(parse_filters(ann, _params(world)))

    assert [row["username"] for row in report.rows] == [ann.username]


@pytest.mark.parametrize("extra", [{}, {"source": "website"}, {"agent": "rep_bob"}])
def test_time_in_stage_medians_and_stuck_leads(world, manager, extra, django_assert_max_num_queries):
    filters = parse_filters(manager, _params(world, stuck_days="3", **extra))
    now = timezone.now()

    with django_assert_max_num_queries(3):
        report = stages_report(filters, now=now)

    stays: dict[str, list[float]] = {}
    stuck = []
    for lead in _cohort(world, filters):
        changes = sorted(lead.status_changes.all(), key=lambda change: (change.changed_at, change.pk))
        for change, following in itertools.pairwise(changes):
            stays.setdefault(change.to_status, []).append(
                (following.changed_at - change.changed_at).total_seconds() / 86400
            )
        if lead.status in [status.value for status in STAGES] and changes[-1].changed_at < now - timedelta(days=3):
            stuck.append(lead.public_id)
    for row, status in zip(report.rows, STAGES, strict=True):
        values = stays.get(status.value, [])
        assert row["stays"] == len(values)
        assert row["median_days"] == (pytest.approx(round(statistics.median(values), 1), abs=0.051) if values else None)
    assert report.extra["stuck_total"] == len(stuck)
    assert sorted(row["lead_id"] for row in report.extra["stuck"]) == sorted(stuck)
    assert any(row["stays"] for row in report.rows)


def test_the_range_is_read_in_the_viewers_time_zone(world, manager):
    manager.time_zone = "Pacific/Auckland"
    manager.save(update_fields=["time_zone"])

    filters = parse_filters(manager, {"start": "2026-03-01", "end": "2026-03-01"})

    assert filters.start_at.isoformat() == "2026-03-01T00:00:00+13:00"
    assert filters.end_at.isoformat() == "2026-03-02T00:00:00+13:00"


def test_an_unknown_status_history_stage_counts_as_new(world, manager):
    lead = world.leads[0]
    Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.NURTURE)
    lead.status_changes.all().delete()

    report = funnel_report(parse_filters(manager, _params(world)))

    assert report.rows[0]["reached"] == len(_cohort(world, parse_filters(manager, _params(world))))


def test_the_stuck_count_covers_the_leads_past_the_listed_ones(world, manager):
    filters = parse_filters(manager, _params(world, stuck_days="1"))

    listed, total = stuck_leads(filters, limit=2)
    everyone, all_total = stuck_leads(filters, limit=1000)

    assert len(listed) == 2
    assert total == all_total == len(everyone) > 2
    assert [lead.pk for lead in listed] == [lead.pk for lead in everyone[:2]]


def test_a_team_manager_counts_only_the_teams_leads_and_deals(world):
    from leads.models import Role, Team
    from leads.tests.factories import UserFactory

    office = Team.objects.create(name="North office")
    boss = UserFactory(username="north_boss", role=Role.MANAGER, team=office)
    ann = world.agents[0]
    ann.team = office
    ann.save(update_fields=["team"])
    theirs = [lead for lead in world.leads if lead.assigned_to_id == ann.pk]
    Lead.objects.filter(pk__in=[lead.pk for lead in theirs]).update(team=office)
    filters = parse_filters(boss, _params(world))

    roi = roi_report(filters)
    board = leaderboard_report(filters)

    cohort = [lead for lead in _cohort(world, filters) if lead.team_id == office.pk]
    assert sum(row["leads"] for row in roi.rows) == len(cohort)
    closed = [
        deal
        for deal in Deal.objects.filter(stage=DealStage.CLOSED, lead__team=office)
        if filters.start <= deal.closed_on <= filters.end
    ]
    assert sum(row["closed"] for row in roi.rows) == len(closed)
    assert {row["username"] for row in board.rows} == {"north_boss", ann.username}
    assert all(row["spend"] == 0 for row in roi.rows)  # the spend recorded has no team
