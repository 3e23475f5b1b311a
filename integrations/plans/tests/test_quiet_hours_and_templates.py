"""Quiet hours in the lead's zone (DST-safe), and templates refused at save."""

import html
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.plans import rules, services, templating
from integrations.plans.models import EnrolmentState, PlanStep, StepKind, StepRun
from integrations.plans.tests.conftest import plan_with, run_steps
from leads.models import Lead, Team

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("local_evening", "expected_morning"),
    [
        # an ordinary night
        (datetime(2026, 6, 10, 22, 0), datetime(2026, 6, 11, 9, 0)),
        # the night the clocks go forward (8 March 2026, 2:00 -> 3:00): still 9:00 local
        (datetime(2026, 3, 7, 22, 0), datetime(2026, 3, 8, 9, 0)),
        # the night the clocks go back (1 November 2026, 2:00 -> 1:00)
        (datetime(2026, 10, 31, 22, 0), datetime(2026, 11, 1, 9, 0)),
        # early morning: the same morning
        (datetime(2026, 6, 10, 6, 30), datetime(2026, 6, 10, 9, 0)),
    ],
)
def test_a_text_due_at_night_waits_until_nine_local(
    local_evening, expected_morning, lead, provider, django_capture_on_commit_callbacks
):
    # given a New York lead that agreed to texts, and a text due at 22:00 local
    team = Team.objects.create(name="NY office", time_zone="America/New_York")
    Lead.objects.filter(pk=lead.pk).update(team=team)  # test data: the lead belongs to the team
    services.set_consent(lead=lead, channel="text", granted=True, source="web form")
    due = local_evening.replace(tzinfo=NEW_YORK)
    enrolment = services.enrol(
        lead=lead, plan=plan_with({"kind": StepKind.SEND_TEXT, "body": "Hi"}), reason="t", now=due
    )

    # when the scheduler runs then
    run_steps(django_capture_on_commit_callbacks, due)

    # then nothing is sent; it waits until 9:00 New York time
    assert provider.texts == []
    enrolment.refresh_from_db()
    assert enrolment.next_due_at.astimezone(NEW_YORK).replace(tzinfo=None) == expected_morning
    assert "Quiet hours" in enrolment.state_reason
    assert not StepRun.objects.filter(enrolment=enrolment).exists()
    # and at 9:00 it goes
    run_steps(django_capture_on_commit_callbacks, enrolment.next_due_at)
    assert len(provider.texts) == 1
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.FINISHED


def test_emails_have_no_quiet_hours():
    night = datetime(2026, 6, 10, 23, 0, tzinfo=NEW_YORK)
    assert rules.quiet_until(night, NEW_YORK) == datetime(2026, 6, 11, 9, 0, tzinfo=NEW_YORK)
    assert rules.quiet_until(datetime(2026, 6, 10, 19, 59, tzinfo=NEW_YORK), NEW_YORK) is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ lead.contact.email }}", 'Unknown merge field "lead.contact.email"'),
        ("{% load static %}", 'The tag "{% load static %}" is not allowed'),
        ("{% include 'base.html' %}", "is not allowed"),
        ("{{ first_name|safe }}", 'The filter "safe" is not allowed'),
        ("{% if first_name %}open", "does not parse"),
        ("{{ first_name.__class__ }}", "Unknown merge field"),
    ],
)
def test_a_bad_template_is_refused_with_a_clear_message(source, message):
    with pytest.raises(templating.TemplateInvalid, match=message.replace("{", r"\{").replace("|", r"\|")):
        templating.validate(source)


def test_a_step_with_a_bad_template_cannot_be_saved_in_the_admin(admin_client):
    plan = plan_with()
    response = admin_client.post(
        f"/admin/plans/plan/{plan.pk}/change/",
        {
            "name": plan.name,
            "trigger": "manual",
            "trigger_sources": "[]",
            "trigger_lead_types": "[]",
            "trigger_tags": "[]",
            "is_active": "on",
            "pause_on_reply": "on",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-position": "10",
            "steps-0-kind": "send_email",
            "steps-0-subject": "Hi {{ secret }}",
            "steps-0-body": "ok",
        },
    )
    assert response.status_code == 200
    assert 'Unknown merge field "secret"' in html.unescape(response.content.decode())
    assert not PlanStep.objects.filter(plan=plan).exists()


def test_a_wait_until_a_weekday_is_strictly_later():
    step = PlanStep(kind=StepKind.WAIT, wait_until_weekday=2, wait_until_time=time(10))
    wednesday_ten = datetime(2026, 6, 10, 10, 0, tzinfo=NEW_YORK)
    assert rules.wait_end(step, now=wednesday_ten, tz=NEW_YORK) == wednesday_ten + timedelta(days=7)
