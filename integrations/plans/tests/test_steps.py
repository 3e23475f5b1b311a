"""Each step kind, run by the scheduler, with the messages received by real loopback
servers (SMTP through aiosmtpd, texts through a Twilio-compatible HTTP provider)."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from integrations.plans import services
from integrations.plans.models import Consent, EnrolmentState, RunState, StepKind, StepRun
from integrations.plans.tests.conftest import plan_with, received, run_steps
from leads.models import FollowUpTask, Lead, LeadStatus

pytestmark = pytest.mark.django_db


def enrol(lead, plan, now=None):
    return services.enrol(lead=lead, plan=plan, reason="test", now=now)


def test_an_email_step_arrives_over_smtp_with_merge_fields_unsubscribe_and_a_signed_reply_to(
    lead, smtp_inbox, django_capture_on_commit_callbacks, settings
):
    # given a plan whose first step is an email, and a lead in it
    settings.PLANS_REPLY_DOMAIN = "reply.example.com"
    plan = plan_with({"kind": StepKind.SEND_EMAIL, "subject": "Hi {{ first_name }}", "body": "From {{ agent_name }}"})
    enrolment = enrol(lead, plan)

    # when the scheduler runs
    run_steps(django_capture_on_commit_callbacks)

    # then the SMTP server received one message, rendered for the lead
    (message,) = received(smtp_inbox)
    assert message["To"] == "kat@example.com"
    assert message["Subject"] == "Hi Katherine"
    assert message["Reply-To"].startswith(f"reply+{lead.public_id}.")
    assert message["Reply-To"].endswith("@reply.example.com")
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "From Alice Nguyen" in text
    assert message["List-Unsubscribe"].strip().strip("<>") in text
    # and the run says so; the plan is finished
    (run,) = StepRun.objects.filter(enrolment=enrolment)
    assert (run.status, run.channel, run.recipient) == (RunState.SENT, "email", "kat@example.com")
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.FINISHED


def test_html_part_escapes_what_the_lead_typed(agent_with_manager, smtp_inbox, django_capture_on_commit_callbacks):
    from leads.tests.factories import LeadFactory

    lead = LeadFactory(assigned_to=agent_with_manager, contact__first_name="<script>x</script>")
    enrol(lead, plan_with({"kind": StepKind.SEND_EMAIL, "subject": "Hi", "body": "Hello {{ first_name }}"}))

    run_steps(django_capture_on_commit_callbacks)

    (message,) = received(smtp_inbox)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html


def test_a_text_step_reaches_the_sms_provider_when_the_lead_consented(
    lead, provider, django_capture_on_commit_callbacks
):
    # given text consent and a plan with a text, at 14:00 on the site's clock
    services.set_consent(lead=lead, channel="text", granted=True, source="web form")
    plan = plan_with({"kind": StepKind.SEND_TEXT, "body": "Hi {{ first_name }}, {{ agent_first_name }} here."})
    noon = timezone.now().replace(hour=14, minute=0)
    enrolment = enrol(lead, plan, now=noon)

    run_steps(django_capture_on_commit_callbacks, noon)

    (text,) = provider.texts
    assert text.form["To"] == lead.contact.phone
    assert text.form["Body"].startswith("Hi Katherine, Alice here.")
    assert "STOP" in text.form["Body"]
    (run,) = StepRun.objects.filter(enrolment=enrolment)
    assert run.status == RunState.SENT and run.sms_message.provider_sid == text.sid


def test_a_text_without_consent_is_skipped_with_the_reason_and_the_plan_goes_on(
    lead, provider, smtp_inbox, django_capture_on_commit_callbacks
):
    noon = timezone.now().replace(hour=14, minute=0)
    plan = plan_with({"kind": StepKind.SEND_TEXT, "body": "Hi"}, {"kind": StepKind.SEND_EMAIL})
    enrolment = enrol(lead, plan, now=noon)

    run_steps(django_capture_on_commit_callbacks, noon)

    assert provider.texts == []
    text_run, email_run = StepRun.objects.filter(enrolment=enrolment).order_by("position")
    assert (text_run.status, text_run.reason) == (RunState.SKIPPED, "No consent for texts on record.")
    assert email_run.status == RunState.SENT and len(smtp_inbox.envelopes) == 1


def test_an_opt_out_set_after_enrolment_is_honoured_when_the_step_runs(
    lead, smtp_inbox, django_capture_on_commit_callbacks
):
    # given a lead enrolled while it could be emailed
    plan = plan_with({"kind": StepKind.WAIT, "wait_minutes": 60}, {"kind": StepKind.SEND_EMAIL})
    enrolment = enrol(lead, plan)
    run_steps(django_capture_on_commit_callbacks)
    # when it opts out before the email is due
    from integrations.workflows.services import record_opt_out
    from integrations.workflows.unsubscribe import unsubscribe_token

    record_opt_out(token=unsubscribe_token(lead=lead, channel="email"))
    run_steps(django_capture_on_commit_callbacks, timezone.now() + timedelta(minutes=61))

    # then nothing is sent and the run says why
    assert smtp_inbox.envelopes == []
    run = StepRun.objects.get(enrolment=enrolment, kind=StepKind.SEND_EMAIL)
    assert (run.status, run.reason) == (RunState.SKIPPED, "The lead opted out of emails.")


def test_an_opt_out_between_recording_and_sending_is_honoured_at_send_time(
    lead, smtp_inbox, django_capture_on_commit_callbacks
):
    from integrations.plans.tests.conftest import deliver_due
    from integrations.workflows.services import record_opt_out
    from integrations.workflows.unsubscribe import unsubscribe_token

    # given an email recorded but not yet handed over (its worker never ran)
    enrolment = enrol(lead, plan_with({"kind": StepKind.SEND_EMAIL}))
    from integrations.plans.tests.conftest import record_without_sending

    record_without_sending()
    # when the lead opts out, then the sweep's attempt comes
    record_opt_out(token=unsubscribe_token(lead=lead, channel="email"))
    deliver_due(timezone.now() + timedelta(hours=1))

    assert smtp_inbox.envelopes == []
    run = StepRun.objects.get(enrolment=enrolment)
    assert run.status == RunState.SKIPPED and run.reason == "At send time: The lead opted out of emails."


def test_the_daily_cap_puts_the_next_message_off_to_the_next_morning(
    lead, smtp_inbox, django_capture_on_commit_callbacks, settings
):
    settings.PLANS_DAILY_MESSAGE_CAP = 2
    noon = timezone.now().replace(hour=12, minute=0)
    plan = plan_with(*[{"kind": StepKind.SEND_EMAIL, "subject": f"n{n}"} for n in range(3)])
    enrolment = enrol(lead, plan, now=noon)

    run_steps(django_capture_on_commit_callbacks, noon)

    assert len(smtp_inbox.envelopes) == 2
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.ACTIVE and "Daily cap of 2" in enrolment.state_reason
    assert enrolment.next_due_at == (noon + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    # and the next morning it goes
    run_steps(django_capture_on_commit_callbacks, enrolment.next_due_at)
    assert len(smtp_inbox.envelopes) == 3


def test_create_task_change_status_tags_and_wait_steps(lead, django_capture_on_commit_callbacks):
    # given a plan with every non-message step
    plan = plan_with(
        {"kind": StepKind.CREATE_TASK, "subject": "Call {{ first_name }}", "task_channel": "call"},
        {"kind": StepKind.ADD_TAG, "tag": "nurture-drip"},
        {"kind": StepKind.CHANGE_STATUS, "status": LeadStatus.NURTURE},
        {"kind": StepKind.WAIT, "wait_minutes": 30},
        {"kind": StepKind.REMOVE_TAG, "tag": "nurture-drip"},
    )
    now = timezone.now()
    enrolment = enrol(lead, plan, now=now)

    # when it runs: everything before the wait
    run_steps(django_capture_on_commit_callbacks, now)

    task = FollowUpTask.objects.get(lead=lead, title="Call Katherine")
    assert task.assigned_to == lead.assigned_to
    fresh = Lead.objects.get(pk=lead.pk)
    assert fresh.status == LeadStatus.NURTURE and "nurture-drip" in fresh.tags
    assert fresh.version > lead.version  # written through the one write path: a new version
    enrolment.refresh_from_db()
    assert enrolment.next_due_at == now + timedelta(minutes=30)
    assert enrolment.state == EnrolmentState.ACTIVE

    # and after the wait, the rest
    run_steps(django_capture_on_commit_callbacks, now + timedelta(minutes=31))
    assert "nurture-drip" not in Lead.objects.get(pk=lead.pk).tags
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.FINISHED
    assert StepRun.objects.filter(enrolment=enrolment, status=RunState.DONE).count() == 5


def test_a_wait_until_a_weekday_and_time_is_in_the_leads_zone(lead, django_capture_on_commit_callbacks):
    from leads.models import Team

    team = Team.objects.create(name="Tokyo office", time_zone="Asia/Tokyo")
    Lead.objects.filter(pk=lead.pk).update(team=team)  # test data: the lead belongs to the team
    plan = plan_with({"kind": StepKind.WAIT, "wait_until_weekday": 0, "wait_until_time": time(10)})
    now = timezone.now()
    enrolment = enrol(lead, plan, now=now)

    run_steps(django_capture_on_commit_callbacks, now)

    enrolment.refresh_from_db()
    local = enrolment.next_due_at.astimezone(team_zone := __import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert (local.weekday(), local.hour, local.minute) == (0, 10, 0)
    assert timedelta(0) < enrolment.next_due_at - now <= timedelta(days=7)
    assert team_zone.key == "Asia/Tokyo"


def test_notify_manager_emails_the_agents_manager(lead, smtp_inbox, django_capture_on_commit_callbacks):
    enrol(lead, plan_with({"kind": StepKind.NOTIFY_MANAGER, "subject": "{{ full_name }} reached step 3", "body": ""}))

    run_steps(django_capture_on_commit_callbacks)

    (message,) = received(smtp_inbox)
    assert message["To"] == "boss@agents.example.com"
    assert message["Subject"] == f"{lead.contact.full_name} reached step 3"


def test_editing_a_plan_does_not_send_done_steps_again(lead, smtp_inbox, django_capture_on_commit_callbacks):
    # given a lead that got the first email and waits
    plan = plan_with({"kind": StepKind.SEND_EMAIL, "subject": "one"}, {"kind": StepKind.WAIT, "wait_minutes": 60})
    enrol(lead, plan)
    run_steps(django_capture_on_commit_callbacks)
    # when the manager edits the first email, inserts a step before it and adds one at the end
    plan.steps.filter(position=10).update(subject="one, edited")
    plan.steps.create(position=5, kind=StepKind.SEND_EMAIL, subject="inserted", body="x")
    plan.steps.create(position=30, kind=StepKind.SEND_EMAIL, subject="three", body="x")
    run_steps(django_capture_on_commit_callbacks, timezone.now() + timedelta(minutes=61))

    # then only the new last step went out
    assert [message["Subject"] for message in received(smtp_inbox)] == ["one", "three"]


def test_a_step_due_while_the_workers_were_down_runs_when_they_return(
    lead, smtp_inbox, django_capture_on_commit_callbacks
):
    enrolment = enrol(lead, plan_with({"kind": StepKind.SEND_EMAIL}), now=timezone.now() - timedelta(hours=6))

    run_steps(django_capture_on_commit_callbacks)

    assert len(smtp_inbox.envelopes) == 1
    assert StepRun.objects.get(enrolment=enrolment).status == RunState.SENT


def test_consent_rows_say_where_they_came_from(lead):
    consent = services.set_consent(lead=lead, channel="call", granted=True, source="agent: call")
    assert Consent.objects.get(lead=lead, channel="call") == consent
    assert (consent.granted, consent.source) == (True, "agent: call")


def test_a_text_when_sms_is_not_set_up_is_skipped_with_the_reason(lead, settings, django_capture_on_commit_callbacks):
    settings.SMS_ACCOUNT_SID = ""
    services.set_consent(lead=lead, channel="text", granted=True, source="web form")
    noon = timezone.now().replace(hour=14, minute=0)
    enrolment = enrol(lead, plan_with({"kind": StepKind.SEND_TEXT, "body": "Hi"}), now=noon)

    run_steps(django_capture_on_commit_callbacks, noon)

    run = StepRun.objects.get(enrolment=enrolment)
    assert run.status == RunState.SKIPPED and run.reason.startswith("Texts are not set up")


def test_a_template_saved_around_the_checks_fails_its_step_with_the_reason(lead, django_capture_on_commit_callbacks):
    plan = plan_with({"kind": StepKind.SEND_EMAIL, "body": "{% if first_name %}never closed"}, {"kind": StepKind.WAIT})
    enrolment = enrol(lead, plan)

    run_steps(django_capture_on_commit_callbacks)

    failed, wait = StepRun.objects.filter(enrolment=enrolment).order_by("position")
    assert failed.status == RunState.FAILED and failed.reason.startswith("The template does not render")
    assert wait.status == RunState.DONE  # the plan went on
