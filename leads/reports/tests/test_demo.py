"""seed_demo leaves full reports: closed deals with commission, spend, time in stage."""

import io

import pytest
from django.core.management import call_command

from leads.deals.models import Deal, DealStage, SourceSpend
from leads.models import Lead, LeadStatus, User
from leads.reports.filters import parse_filters
from leads.reports.roi import roi_report
from leads.reports.stages import stages_report

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_every_closed_lead_its_deal_and_the_reports_figures():
    call_command("seed_demo", "--leads", "18", stdout=io.StringIO())
    manager = User.objects.get(username="manager")

    closed = Lead.objects.filter(status=LeadStatus.CLOSED)
    assert closed.exists()
    assert all(Deal.objects.filter(lead=lead, stage=DealStage.CLOSED).exists() for lead in closed)
    assert SourceSpend.objects.filter(team=manager.team).count() > 0
    filters = parse_filters(manager, {})
    roi = roi_report(filters)
    assert sum(row["commission"] for row in roi.rows) > 0
    assert any(row["spend"] for row in roi.rows)
    assert any(row["median_days"] for row in stages_report(filters).rows)

    again = io.StringIO()
    call_command("seed_reports_demo", stdout=again)
    assert "nothing added" in again.getvalue()
