"""The demo's story (``leads.demo.plan_leads``) holds whatever the time of day it is seeded."""

from datetime import UTC, datetime, timedelta

import pytest

from leads.demo import FOLLOW_UP_TITLES, first_contact_sla, plan_leads
from leads.models import LeadStatus

CLOCKS = [
    datetime(2026, 3, 2, 0, 4, tzinfo=UTC),  # just after midnight
    datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    datetime(2026, 3, 2, 23, 57, tzinfo=UTC),  # just before midnight
]


@pytest.mark.parametrize("now", CLOCKS, ids=lambda now: now.strftime("%H:%M"))
def test_every_lead_arrived_in_the_last_eight_weeks_and_was_contacted_after_it_arrived(now):
    plans = plan_leads(80, now=now)

    for plan in plans:
        assert now - timedelta(weeks=8) < plan.arrived_at <= now
        if plan.status == LeadStatus.NEW:
            assert plan.first_contact_at is None
        else:
            assert plan.arrived_at < plan.first_contact_at < now
        assert all(plan.first_contact_at < at < now for *_, at in plan.later_contacts)


@pytest.mark.parametrize("now", CLOCKS, ids=lambda now: now.strftime("%H:%M"))
def test_leads_waiting_for_a_first_call_arrived_in_the_last_days(now):
    waiting = [plan for plan in plan_leads(80, now=now) if plan.status == LeadStatus.NEW]

    assert waiting
    assert all(now - plan.arrived_at < timedelta(days=3) for plan in waiting)
    late = [plan for plan in waiting if now - plan.arrived_at > first_contact_sla(plan.urgency)]
    assert 0 < len(late) < len(waiting) / 2


@pytest.mark.parametrize("now", CLOCKS, ids=lambda now: now.strftime("%H:%M"))
def test_most_first_calls_are_within_the_sla_and_a_few_are_not(now):
    contacted = [plan for plan in plan_leads(80, now=now) if plan.first_contact_at is not None]

    late = [plan for plan in contacted if plan.first_contact_at - plan.arrived_at > first_contact_sla(plan.urgency)]

    assert 0 < len(late) <= 0.2 * len(contacted)


@pytest.mark.parametrize("now", CLOCKS, ids=lambda now: now.strftime("%H:%M"))
def test_open_leads_have_follow_ups_due_later_today_overdue_and_upcoming(now):
    plans = [plan for plan in plan_leads(80, now=now) if plan.status in FOLLOW_UP_TITLES]
    midnight = now.replace(hour=0, minute=0) + timedelta(days=1)

    due = [plan.follow_up[1] for plan in plans]

    assert all(plan.follow_up for plan in plans)
    assert any(now < at < midnight for at in due)
    assert any(at < now for at in due)
    assert any(at > midnight for at in due)


def test_the_same_clock_gives_the_same_story():
    now = CLOCKS[1]

    assert plan_leads(30, now=now) == plan_leads(30, now=now)
