"""The dry runs: what will happen to a lead, and whom a plan would reach."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from integrations.plans import selectors, services
from integrations.plans.models import StepKind, TriggerKind
from integrations.plans.tests.conftest import plan_with
from leads.models import Lead, Team
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def ny_lead(lead):
    team = Team.objects.create(name="NY office", time_zone="America/New_York")
    Lead.objects.filter(pk=lead.pk).update(team=team)  # test data: the lead belongs to the team
    return Lead.objects.get(pk=lead.pk)


def test_what_will_happen_lists_each_coming_step_with_its_time_and_verdict(ny_lead, settings, provider):
    # given a lead at 21:00 New York time in a plan: email, text (with no consent),
    # wait an hour, text (with consent later), and a new-lead plan it would start
    settings.PLANS_DAILY_MESSAGE_CAP = 5
    evening = datetime(2026, 6, 10, 21, 0, tzinfo=NEW_YORK)
    plan = plan_with(
        {"kind": StepKind.SEND_EMAIL, "subject": "Hi {{ first_name }}", "body": "Hello"},
        {"kind": StepKind.SEND_TEXT, "body": "Text 1"},
        {"kind": StepKind.WAIT, "wait_minutes": 60},
        {"kind": StepKind.CREATE_TASK, "subject": "Call"},
        name="Welcome",
    )
    services.enrol(lead=ny_lead, plan=plan, reason="t", now=evening)
    plan_with({"kind": StepKind.SEND_EMAIL}, trigger=TriggerKind.NEW_LEAD, name="New web lead")

    forecasts = selectors.what_will_happen(ny_lead, evening)

    welcome, new_web = forecasts
    assert (welcome.plan.name, welcome.state, new_web.plan.name, new_web.state) == (
        "Welcome",
        "active",
        "New web lead",
        "would start",
    )
    email, text, wait, task = welcome.steps
    assert (email.will_send, email.verdict, email.due_at.hour) == (True, "will send", 21)
    assert email.preview.startswith("Hi Katherine")
    assert (text.will_send, text.verdict) == (False, "skipped: No consent for texts on record.")
    assert wait.verdict.startswith("will run: waits until")
    assert (task.due_at.astimezone(NEW_YORK).hour, task.verdict) == (22, "will run")
    assert str(email.due_at.tzinfo) == "America/New_York"

    # and with text consent, the text waits for the morning
    services.set_consent(lead=ny_lead, channel="text", granted=True, source="web form")
    text = selectors.what_will_happen(ny_lead, evening)[0].steps[1]
    assert text.will_send and text.verdict == "will send (waits: quiet hours until 09:00 EDT)"
    assert text.due_at == datetime(2026, 6, 11, 9, 0, tzinfo=NEW_YORK)


def test_a_paused_plan_says_why_and_the_daily_cap_shows(ny_lead, settings, django_capture_on_commit_callbacks):
    settings.PLANS_DAILY_MESSAGE_CAP = 1
    noon = datetime(2026, 6, 10, 12, 0, tzinfo=NEW_YORK)
    capped = plan_with({"kind": StepKind.SEND_EMAIL}, {"kind": StepKind.SEND_EMAIL})
    paused = plan_with({"kind": StepKind.SEND_EMAIL})
    services.enrol(lead=ny_lead, plan=capped, reason="t", now=noon)
    services.enrol(lead=ny_lead, plan=paused, reason="t", now=noon)
    services.pause_for(lead_pk=ny_lead.pk, why="Paused: the lead replied (text).", setting="pause_on_reply")
    services.resume(enrolment=capped.enrolments.get(), now=noon)

    by_plan = {forecast.plan.pk: forecast for forecast in selectors.what_will_happen(ny_lead, noon)}

    first, second = by_plan[capped.pk].steps
    assert first.verdict == "will send"
    assert second.verdict.startswith("will send (waits: daily cap, until Thu 09:00")
    (step,) = by_plan[paused.pk].steps
    assert (step.will_send, step.verdict) == (False, "paused: Paused: the lead replied (text).")


def test_who_would_get_lists_the_leads_and_their_first_message(agent, manager):
    plan = plan_with(
        {"kind": StepKind.WAIT, "wait_minutes": 5},
        {"kind": StepKind.SEND_EMAIL, "subject": "Welcome {{ first_name }}", "body": "Hi"},
        trigger=TriggerKind.NEW_LEAD,
        trigger_sources=["website"],
        is_active=False,
    )
    web = LeadFactory(assigned_to=agent, source="website", contact__first_name="Wendy")
    LeadFactory(assigned_to=agent, source="referral")
    LeadFactory(assigned_to=agent, source="website", status="qualified")
    services.enrol(lead=LeadFactory(assigned_to=agent, source="website"), plan=plan, reason="t")

    now = timezone.now()
    recipients, total = selectors.who_would_get(plan, now, user=manager)

    assert total == 1
    (recipient,) = recipients
    assert recipient.lead == web
    assert recipient.first_message.verdict == "will send"
    # the five-minute wait before it decides when it goes
    assert recipient.first_message.due_at == now + timedelta(minutes=5)
    assert recipient.first_message.preview.startswith("Welcome Wendy")


def test_the_api_dry_runs(api_client, agent, manager):
    lead = LeadFactory(assigned_to=agent)
    plan = plan_with({"kind": StepKind.SEND_EMAIL, "subject": "Hi", "body": "x"}, name="P")
    services.enrol(lead=lead, plan=plan, reason="t", now=timezone.now() + timedelta(hours=1))

    body = api_client(agent).get(f"/api/v2/leads/{lead.public_id}/plans/dry-run").json()
    assert body["lead_id"] == lead.public_id
    (forecast,) = body["plans"]
    assert forecast["plan"] == {"id": plan.pk, "name": "P"}
    assert forecast["steps"][0]["will_send"] is True

    body = api_client(manager).get(f"/api/v2/plans/{plan.pk}/dry-run").json()
    assert body["plan"]["id"] == plan.pk and body["total_count"] == 0
