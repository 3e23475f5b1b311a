"""The "web activity" trigger: set up in the plan editor, started by lead.web_activity
events when the count is reached in the window (exactly N, not N-1), once per lead."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.plans.models import Enrolment, Plan, StepKind, TriggerKind
from integrations.plans.tests.conftest import plan_with
from leads.tests.factories import LeadFactory
from leads.webevents.services import record_web_event

pytestmark = pytest.mark.django_db

WAIT = {"kind": StepKind.WAIT, "wait_minutes": 60}


def same_listing_three_times() -> Plan:
    return plan_with(
        WAIT,
        trigger=TriggerKind.WEB_ACTIVITY,
        trigger_web_kind="listing_viewed",
        trigger_count=3,
        trigger_window_hours=7 * 24,
        trigger_same_listing=True,
    )


def five_listings_in_a_day() -> Plan:
    return plan_with(
        WAIT,
        trigger=TriggerKind.WEB_ACTIVITY,
        trigger_web_kind="listing_viewed",
        trigger_count=5,
        trigger_window_hours=24,
    )


def view(lead, n: int, ref: str, capture, *, ago: timedelta = timedelta(minutes=5)) -> None:
    """A listing view recorded, its lead event relayed and the after-commit work run."""
    with capture(execute=True):
        record_web_event(
            lead=lead,
            kind="listing_viewed",
            occurred_at=timezone.now() - ago,
            event_id=f"view-{lead.pk}-{n}",
            listing_ref=ref,
        )


def test_viewing_the_same_listing_a_third_time_starts_the_plan_once(django_capture_on_commit_callbacks):
    # given the plan "viewed the same listing 3 times in a week"
    plan = same_listing_three_times()
    lead = LeadFactory()

    # when the lead views MLS1 twice and MLS2 once: 3 views, but only 2 of one listing
    view(lead, 1, "MLS1", django_capture_on_commit_callbacks)
    view(lead, 2, "MLS2", django_capture_on_commit_callbacks)
    view(lead, 3, "MLS1", django_capture_on_commit_callbacks)
    # then nothing starts (N-1)
    assert not Enrolment.objects.filter(lead=lead).exists()

    # when MLS1 is viewed a third time (N), and a fourth
    view(lead, 4, "MLS1", django_capture_on_commit_callbacks)
    view(lead, 5, "MLS1", django_capture_on_commit_callbacks)

    # then the lead is in the plan, once, with the reason
    (enrolment,) = Enrolment.objects.filter(lead=lead)
    assert enrolment.plan == plan
    assert enrolment.reason == "Website activity: Viewed a listing 3 times (the same listing) within 168 hours"


def test_five_listings_in_24_hours_starts_the_plan_at_the_fifth(django_capture_on_commit_callbacks):
    plan = five_listings_in_a_day()
    lead = LeadFactory()
    # a listing viewed two days ago is outside the window, and a listing seen twice counts once
    view(lead, 0, "OLD", django_capture_on_commit_callbacks, ago=timedelta(hours=48))
    for n in range(1, 5):
        view(lead, n, f"MLS{n}", django_capture_on_commit_callbacks)
    view(lead, 9, "MLS1", django_capture_on_commit_callbacks)
    assert not Enrolment.objects.filter(lead=lead).exists()  # 4 listings in the window

    view(lead, 5, "MLS5", django_capture_on_commit_callbacks)

    assert Enrolment.objects.get(lead=lead).plan == plan


def test_other_kinds_and_inactive_plans_start_nothing(django_capture_on_commit_callbacks):
    saved = plan_with(
        WAIT,
        trigger=TriggerKind.WEB_ACTIVITY,
        trigger_web_kind="listing_saved",
        trigger_count=1,
        trigger_window_hours=24,
    )
    off = plan_with(
        WAIT,
        trigger=TriggerKind.WEB_ACTIVITY,
        trigger_web_kind="listing_viewed",
        trigger_count=1,
        trigger_window_hours=24,
        is_active=False,
    )
    lead = LeadFactory()

    view(lead, 1, "MLS1", django_capture_on_commit_callbacks)

    assert not Enrolment.objects.filter(plan__in=[saved, off]).exists()


def test_the_plan_editor_sets_up_a_web_activity_trigger(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("plans:plan_create"),
        {
            "name": "Hot on a listing",
            "trigger": "web_activity",
            "trigger_web_kind": "listing_viewed",
            "trigger_count": "3",
            "trigger_window_hours": "168",
            "trigger_same_listing": "on",
            "trigger_days": "9",  # another trigger's field: dropped
        },
    )

    assert response.status_code == 303, response.content[:2000]
    plan = Plan.objects.get()
    assert (plan.trigger_web_kind, plan.trigger_count, plan.trigger_window_hours, plan.trigger_same_listing) == (
        "listing_viewed",
        3,
        168,
        True,
    )
    assert plan.trigger_days is None
    page = client.get(reverse("plans:plan_detail", args=[plan.pk])).content.decode()
    assert "Viewed a listing 3 times (the same listing) within 168 hours" in page


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"trigger_count": "3", "trigger_window_hours": "24"}, "trigger_web_kind"),
        ({"trigger_web_kind": "listing_viewed", "trigger_window_hours": "24"}, "trigger_count"),
        ({"trigger_web_kind": "listing_viewed", "trigger_count": "3"}, "trigger_window_hours"),
        ({"trigger_web_kind": "listing_viewed", "trigger_count": "0", "trigger_window_hours": "24"}, "trigger_count"),
        ({"trigger_web_kind": "teleported", "trigger_count": "3", "trigger_window_hours": "24"}, "trigger_web_kind"),
    ],
)
def test_a_web_activity_trigger_needs_its_settings(client, manager, fields, field):
    client.force_login(manager)
    response = client.post(reverse("plans:plan_create"), {"name": "X", "trigger": "web_activity", **fields})
    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert not Plan.objects.exists()
