"""The back office's plan pages: they open, a valid step saves, enrolments stop and resume."""

import pytest

from integrations.plans import services
from integrations.plans.models import Enrolment, EnrolmentState, Plan, StepKind
from integrations.plans.tests.conftest import plan_with
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_the_plan_pages_open(admin_client, lead):
    plan = plan_with({"kind": StepKind.SEND_EMAIL}, {"kind": StepKind.WAIT, "wait_minutes": 5})
    enrolment = services.enrol(lead=lead, plan=plan, reason="t")
    for url in (
        "/admin/plans/plan/",
        f"/admin/plans/plan/{plan.pk}/change/",
        "/admin/plans/plan/add/",
        "/admin/plans/enrolment/",
        f"/admin/plans/enrolment/{enrolment.pk}/change/",
        "/admin/plans/steprun/",
        "/admin/plans/consent/",
        "/admin/plans/consent/add/",
    ):
        assert admin_client.get(url).status_code == 200, url


def test_a_plan_with_a_valid_step_saves(admin_client):
    response = admin_client.post(
        "/admin/plans/plan/add/",
        {
            "name": "Welcome",
            "trigger": "new_lead",
            "trigger_sources": '["website"]',
            "trigger_lead_types": "[]",
            "trigger_tags": "[]",
            "is_active": "on",
            "pause_on_reply": "on",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-position": "10",
            "steps-0-kind": "send_text",
            "steps-0-body": "Hi {{ first_name|default:'there' }}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = Plan.objects.get(name="Welcome")
    assert plan.trigger_sources == ["website"] and plan.steps.get().body.startswith("Hi")


def test_stop_and_resume_actions(admin_client, agent):
    plan = plan_with({"kind": StepKind.WAIT, "wait_minutes": 5})
    paused = services.enrol(lead=LeadFactory(assigned_to=agent), plan=plan, reason="t")
    active = services.enrol(lead=LeadFactory(assigned_to=agent), plan=plan, reason="t")
    services.pause_for(lead_pk=paused.lead_id, why="replied", setting="pause_on_reply")

    admin_client.post("/admin/plans/enrolment/", {"action": "resume_enrolments", "_selected_action": [paused.pk]})
    admin_client.post("/admin/plans/enrolment/", {"action": "stop_enrolments", "_selected_action": [active.pk]})

    states = dict(Enrolment.objects.values_list("pk", "state"))
    assert states == {paused.pk: EnrolmentState.ACTIVE, active.pk: EnrolmentState.STOPPED}
