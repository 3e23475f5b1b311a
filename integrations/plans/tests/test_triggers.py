"""What starts and pauses plans: lead events through the one subscription, and the
periodic time triggers."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from integrations.plans import triggers
from integrations.plans.models import Enrolment, EnrolmentState, StepKind, TriggerKind
from integrations.plans.tests.conftest import plan_with, relay
from leads.models import FollowUpTask, Lead, LeadStatus
from leads.tests.factories import LeadFactory, seed_payload

pytestmark = pytest.mark.django_db


def create_lead(client, django_capture_on_commit_callbacks, **fields) -> Lead:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v2/leads", seed_payload(**fields), format="json")
    assert response.status_code == 201, response.content
    return Lead.objects.get(public_id=response.json()["lead"]["id"])


def test_a_new_web_lead_starts_the_plans_whose_filters_it_fits(api_client, agent, django_capture_on_commit_callbacks):
    # given a plan for website buyers, one for referrals, and one switched off
    web = plan_with(
        {"kind": StepKind.WAIT, "wait_minutes": 5},
        trigger=TriggerKind.NEW_LEAD,
        trigger_sources=["website"],
        trigger_lead_types=["buyer"],
    )
    plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}, trigger=TriggerKind.NEW_LEAD, trigger_sources=["referral"])
    plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}, trigger=TriggerKind.NEW_LEAD, is_active=False)

    # when a website buyer arrives through the API
    lead = create_lead(api_client(agent), django_capture_on_commit_callbacks, source="website", lead_type="buyer")

    # then it is in the web plan only, and its first step already ran
    (enrolment,) = Enrolment.objects.filter(lead=lead)
    assert enrolment.plan == web and enrolment.reason.startswith("New lead")
    assert enrolment.runs.count() == 1


def test_a_status_change_to_nurture_starts_the_nurture_plan_once(api_client, agent, django_capture_on_commit_callbacks):
    nurture = plan_with(
        {"kind": StepKind.WAIT, "wait_minutes": 5}, trigger=TriggerKind.STATUS_CHANGED, trigger_status="nurture"
    )
    client = api_client(agent)
    lead = create_lead(client, django_capture_on_commit_callbacks)

    for status in ("nurture", "contacted", "nurture"):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.patch(f"/api/v2/leads/{lead.public_id}", {"status": status}, format="json").status_code == 200

    assert list(Enrolment.objects.filter(lead=lead).values_list("plan", flat=True)) == [nurture.pk]


def test_a_tag_added_starts_the_plan_of_that_tag(api_client, agent, django_capture_on_commit_callbacks):
    plan = plan_with(
        {"kind": StepKind.WAIT, "wait_minutes": 5}, trigger=TriggerKind.TAG_ADDED, trigger_tags=["relocating"]
    )
    client = api_client(agent)
    lead = create_lead(client, django_capture_on_commit_callbacks, tags=["vip"])
    assert not Enrolment.objects.filter(lead=lead).exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.patch(f"/api/v2/leads/{lead.public_id}", {"tags": ["vip", "relocating"]}, format="json")

    assert Enrolment.objects.get(lead=lead).plan == plan


def test_no_contact_for_n_days_and_the_move_date_start_plans_on_the_periodic_run(agent):
    now = timezone.now()
    quiet = plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}, trigger=TriggerKind.NO_CONTACT, trigger_days=14)
    moving = plan_with(
        {"kind": StepKind.WAIT, "wait_minutes": 5},
        trigger=TriggerKind.DATE_FIELD,
        trigger_days=30,
        trigger_date_field="timeline.target_move_date",
    )
    silent = LeadFactory(assigned_to=agent)
    talked = LeadFactory(assigned_to=agent)
    closed = LeadFactory(assigned_to=agent, status=LeadStatus.CLOSED)
    Lead.objects.filter(pk__in=[silent.pk, closed.pk]).update(created_at=now - timedelta(days=20))  # test data
    Lead.objects.filter(pk=talked.pk).update(
        created_at=now - timedelta(days=20), last_contacted_at=now - timedelta(days=2)
    )
    soon = LeadFactory(assigned_to=agent, timeline__target_move_date=(now + timedelta(days=20)).date())
    later = LeadFactory(assigned_to=agent, timeline__target_move_date=date(2099, 1, 1))

    started = triggers.start_by_time(now)
    again = triggers.start_by_time(now)

    assert set(Enrolment.objects.filter(plan=quiet).values_list("lead", flat=True)) == {silent.pk}
    assert set(Enrolment.objects.filter(plan=moving).values_list("lead", flat=True)) == {soon.pk}
    assert (started, again) == (2, 0)
    assert not Enrolment.objects.filter(lead=later).exists()


def test_a_reply_pauses_the_plans_that_pause_on_reply_and_gives_the_agent_a_task(
    lead, django_capture_on_commit_callbacks
):
    from integrations.plans import services

    # given the lead in two plans, one that keeps going when the lead replies
    pausing = plan_with({"kind": StepKind.WAIT, "wait_minutes": 5})
    keeps = plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}, pause_on_reply=False)
    services.enrol(lead=lead, plan=pausing, reason="t")
    services.enrol(lead=lead, plan=keeps, reason="t")

    # when the lead replies by text
    services.log_inbound(lead=lead, type="text", summary="Text from the lead: yes, call me")
    relay(django_capture_on_commit_callbacks)

    # then the first plan is paused, the second is not, and the agent has a task
    states = dict(Enrolment.objects.filter(lead=lead).values_list("plan", "state"))
    assert states == {pausing.pk: EnrolmentState.PAUSED, keeps.pk: EnrolmentState.ACTIVE}
    (task,) = FollowUpTask.objects.filter(lead=lead, title__startswith="Lead replied")
    assert task.assigned_to == lead.assigned_to


def test_a_reply_an_agent_logs_by_hand_gives_no_task_unless_it_stopped_a_plan(
    api_client, lead, django_capture_on_commit_callbacks
):
    client = api_client(lead.assigned_to)
    url = f"/api/v2/leads/{lead.public_id}/interactions"
    inbound_call = {"type": "call", "direction": "inbound", "summary": "Called back about the condo"}

    # the lead is in no plan: the agent who logged the call needs no reminder of it
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, inbound_call, format="json").status_code == 201
    assert not FollowUpTask.objects.filter(lead=lead, title__startswith="Lead replied").exists()

    # in a plan that pauses on a reply: the plan stops, so the agent gets the task, due now
    from integrations.plans import services

    services.enrol(lead=lead, plan=plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}), reason="t")
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {**inbound_call, "summary": "Called again"}, format="json").status_code == 201
    (task,) = FollowUpTask.objects.filter(lead=lead, title__startswith="Lead replied")
    assert task.title.endswith("Called again") and task.due_at >= before


def test_a_connected_call_pauses_but_a_voicemail_does_not(api_client, lead, django_capture_on_commit_callbacks):
    from integrations.plans import services

    enrolment = services.enrol(lead=lead, plan=plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}), reason="t")
    client = api_client(lead.assigned_to)
    url = f"/api/v2/leads/{lead.public_id}/interactions"

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"type": "call", "summary": "Left a voicemail"}, format="json")
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.ACTIVE

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"type": "call", "summary": "Spoke with the lead"}, format="json")
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.PAUSED


def test_a_person_moving_the_lead_past_contacted_pauses_plans_but_a_plan_step_does_not(
    api_client, lead, django_capture_on_commit_callbacks
):
    from integrations.plans import services
    from integrations.plans.tests.conftest import run_steps

    # given a plan that itself moves the lead to qualified, then waits
    plan = plan_with(
        {"kind": StepKind.CHANGE_STATUS, "status": "qualified"}, {"kind": StepKind.WAIT, "wait_minutes": 9}
    )
    other = plan_with({"kind": StepKind.WAIT, "wait_minutes": 9})
    enrolment = services.enrol(lead=lead, plan=plan, reason="t")
    run_steps(django_capture_on_commit_callbacks)
    relay(django_capture_on_commit_callbacks)
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.ACTIVE  # its own write does not pause it

    # when the agent moves the lead to showing
    second = services.enrol(lead=lead, plan=other, reason="t")
    with django_capture_on_commit_callbacks(execute=True):
        api_client(lead.assigned_to).patch(f"/api/v2/leads/{lead.public_id}", {"status": "showing"}, format="json")

    assert set(Enrolment.objects.filter(pk__in=[enrolment.pk, second.pk]).values_list("state", flat=True)) == {
        EnrolmentState.PAUSED
    }
