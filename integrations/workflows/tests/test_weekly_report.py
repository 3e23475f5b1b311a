"""The weekly report email: last week's figures against the week before, once per
manager and week, through the workflows' email path; opt-out respected."""

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.workflows.models import WorkflowEvent, WorkflowEventKind
from integrations.workflows.weekly_report import send_weekly_reports
from leads.accounts import availability
from leads.models import Lead
from leads.reports.tests.world import build_world
from leads.reports.weekly import last_week

pytestmark = pytest.mark.django_db


def test_each_manager_gets_last_weeks_figures_once(manager, mailoutbox):
    world = build_world()
    now = timezone.now()
    week_start = last_week(manager, now)
    start = datetime.combine(week_start, time.min, tzinfo=availability.user_zone(manager))
    expected = Lead.objects.filter(
        pk__in=[lead.pk for lead in world.leads], created_at__gte=start, created_at__lt=start + timedelta(days=7)
    ).count()
    before = Lead.objects.filter(
        pk__in=[lead.pk for lead in world.leads], created_at__gte=start - timedelta(days=7), created_at__lt=start
    ).count()

    assert send_weekly_reports(now) == 1
    assert send_weekly_reports(now) == 0  # claimed: a re-run sends nothing

    (message,) = mailoutbox
    assert message.to == [manager.email]
    assert f"New leads: {expected} (" in message.body
    change = expected - before
    assert f"({'+' if change >= 0 else ''}{change}" in message.body
    assert reverse("reports:email_settings") in message.body
    assert message.extra_headers["List-Unsubscribe"].startswith("<http")
    assert WorkflowEvent.objects.filter(kind=WorkflowEventKind.WEEKLY_REPORT).count() == 1


def test_a_manager_who_opted_out_gets_nothing_and_agents_never_do(client, manager, agent, mailoutbox):
    client.force_login(manager)

    response = client.post(reverse("reports:email_settings"), {})  # the box unticked

    assert response.status_code == 303
    assert send_weekly_reports(timezone.now()) == 0
    assert mailoutbox == []
    client.post(reverse("reports:email_settings"), {"weekly": "on"})
    assert send_weekly_reports(timezone.now()) == 1
    assert [message.to for message in mailoutbox] == [[manager.email]]


def test_agents_cannot_open_the_weekly_email_settings(client, agent):
    client.force_login(agent)

    assert client.get(reverse("reports:email_settings")).status_code == 403
