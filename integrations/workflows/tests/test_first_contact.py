from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.workflows.models import WorkflowEvent
from integrations.workflows.services import start_for_leads
from leads.models import FollowUpTask, Lead

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("urgency", "minutes"),
    [("urgent", 5), ("high", 60), ("normal", 24 * 60), ("low", 72 * 60)],
)
def test_a_new_lead_gets_one_first_contact_task_due_by_its_urgency(new_lead, team, urgency, minutes):
    lead = new_lead(timeline__urgency_level=urgency)

    start_for_leads([(lead.pk, "created")])

    task = FollowUpTask.objects.get(lead=lead)
    assert (task.kind, task.assigned_to, task.completed_at) == ("first_contact", team, None)
    assert task.due_at == lead.created_at + timedelta(minutes=minutes)
    lead.refresh_from_db()
    assert (lead.sla_due_at, lead.sla_status) == (task.due_at, "pending")
    assert lead.version == 1  # bookkeeping, not a new version of the lead


def test_a_late_run_counts_the_deadline_from_arrival_not_from_now(new_lead):
    lead = new_lead(minutes_ago=30, timeline__urgency_level="high")

    start_for_leads([(lead.pk, "created")])

    assert FollowUpTask.objects.get(lead=lead).due_at == lead.created_at + timedelta(hours=1)


def test_the_sla_minutes_are_settings(new_lead, settings):
    settings.LEAD_FIRST_CONTACT_SLA_MINUTES = {"urgent": 2, "high": 30, "normal": 600, "low": 1200}
    lead = new_lead(timeline__urgency_level="normal")

    start_for_leads([(lead.pk, "created")])

    assert FollowUpTask.objects.get(lead=lead).due_at == lead.created_at + timedelta(minutes=600)


def test_running_twice_creates_no_second_task_and_sends_nothing_twice(new_lead, mailoutbox):
    lead = new_lead(timeline__urgency_level="urgent")

    start_for_leads([(lead.pk, "created")])
    start_for_leads([(lead.pk, "created")])

    assert FollowUpTask.objects.filter(lead=lead).count() == 1
    assert sorted(message.to[0] for message in mailoutbox) == sorted([lead.contact.email, lead.assigned_to.email])
    assert WorkflowEvent.objects.filter(lead=lead).count() == 3


@pytest.mark.parametrize(("urgency", "alerted"), [("urgent", True), ("high", True), ("normal", False), ("low", False)])
def test_the_agent_is_alerted_for_urgent_and_high_leads_only(new_lead, team, mailoutbox, urgency, alerted):
    lead = new_lead(timeline__urgency_level=urgency, contact__first_name="Grace", contact__last_name="Hopper")

    start_for_leads([(lead.pk, "created")])

    alerts = [message for message in mailoutbox if message.to == [team.email]]
    assert len(alerts) == (1 if alerted else 0)
    if alerted:
        assert alerts[0].subject.startswith(f"{urgency.capitalize()} lead: contact Grace Hopper by ")
        assert lead.contact.phone in alerts[0].body


def test_the_welcome_email_greets_the_lead_and_replies_go_to_the_agent(new_lead, team, mailoutbox):
    lead = new_lead(contact__first_name="Ada", preferences__preferred_locations=["Oakland", "Berkeley"])

    start_for_leads([(lead.pk, "created")])

    (welcome,) = mailoutbox
    assert welcome.to == [lead.contact.email]
    assert welcome.reply_to == [team.email]
    assert welcome.body.startswith("Hi Ada,")
    assert "about Oakland, Berkeley" in welcome.body
    html, mimetype = welcome.alternatives[0]
    assert mimetype == "text/html"
    assert "Hi Ada," in html


@pytest.mark.parametrize("contact", [{"email_opt_out": True}, {"email": "", "phone": "+14155550100"}])
def test_no_welcome_email_without_an_address_or_consent(new_lead, mailoutbox, contact):
    lead = new_lead(**{f"contact__{field}": value for field, value in contact.items()})

    start_for_leads([(lead.pk, "created")])

    assert mailoutbox == []
    assert FollowUpTask.objects.filter(lead=lead).count() == 1  # the agent still has to call


def test_a_failed_send_is_retried_by_the_next_run(new_lead, mailoutbox, settings, caplog):
    lead = new_lead()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens

    # the SMTP outage is logged, the message's claim released
    start_for_leads([(lead.pk, "created")])
    assert "A workflow message was not sent" in caplog.text
    assert mailoutbox == []
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    start_for_leads([(lead.pk, "created")])

    assert [message.to for message in mailoutbox] == [[lead.contact.email]]
    assert FollowUpTask.objects.filter(lead=lead).count() == 1


def test_a_lead_created_past_new_gets_no_welcome_and_no_task(new_lead, mailoutbox):
    lead = new_lead(status="closed", timeline__urgency_level="urgent")

    start_for_leads([(lead.pk, "created")])

    assert mailoutbox == []
    assert not FollowUpTask.objects.filter(lead=lead).exists()


def test_other_saves_do_not_start_the_first_contact_plan(new_lead, mailoutbox):
    lead = new_lead()

    start_for_leads([(lead.pk, "updated")])

    assert mailoutbox == []
    assert not FollowUpTask.objects.filter(lead=lead).exists()


def test_contact_within_the_deadline_meets_the_sla_and_completes_the_task(new_lead):
    # given an urgent lead planned when it arrived 3 minutes ago
    lead = new_lead(minutes_ago=3, timeline__urgency_level="urgent")
    start_for_leads([(lead.pk, "created")])
    # when the agent calls it now (the interaction's save runs the workflows again)
    contacted_at = lead.created_at + timedelta(minutes=3)
    Lead.objects.filter(pk=lead.pk).update(first_contacted_at=contacted_at, version=2)
    start_for_leads([(lead.pk, "interaction")])

    # then the SLA is met and the first-contact task done at the contact time
    lead.refresh_from_db()
    assert lead.sla_status == "met"
    assert FollowUpTask.objects.get(lead=lead).completed_at == contacted_at


def test_contact_after_the_deadline_breaches_the_sla(new_lead):
    lead = new_lead(minutes_ago=90, timeline__urgency_level="high")
    start_for_leads([(lead.pk, "created")])
    Lead.objects.filter(pk=lead.pk).update(first_contacted_at=lead.created_at + timedelta(minutes=61))

    start_for_leads([(lead.pk, "interaction")])

    lead.refresh_from_db()
    assert lead.sla_status == "breached"
    assert FollowUpTask.objects.get(lead=lead).is_done


def test_a_lead_contacted_before_its_created_run_is_planned_and_settled_at_once(new_lead, team, mailoutbox):
    # given an urgent lead the agent called within a minute, before the workflows ran
    lead = new_lead(minutes_ago=2, timeline__urgency_level="urgent")
    Lead.objects.filter(pk=lead.pk).update(first_contacted_at=lead.created_at + timedelta(minutes=1))

    start_for_leads([(lead.pk, "created")])

    lead.refresh_from_db()
    assert lead.sla_status == "met"
    assert FollowUpTask.objects.get(lead=lead).is_done
    assert [message.to for message in mailoutbox] == [[lead.contact.email]]  # no alert: already contacted


# --- a batch of saves (the pipeline's workflows task) -------------------------------


def run_batch(leads: list[Lead], reason: str = "created") -> int:
    """``start_for_leads`` for ``leads``; returns how many queries it made."""
    with CaptureQueriesContext(connection) as captured:
        start_for_leads([(lead.pk, reason) for lead in leads])
    return len(captured)


def test_a_batch_of_new_leads_gets_each_its_task_deadline_and_messages(new_lead, team, mailoutbox):
    leads = [new_lead(timeline__urgency_level="urgent") for _ in range(3)]

    run_batch(leads)

    for lead in leads:
        task = FollowUpTask.objects.get(lead=lead)
        lead.refresh_from_db()
        assert lead.sla_due_at == task.due_at == lead.created_at + timedelta(minutes=5)
        assert WorkflowEvent.objects.get(key=f"welcome:{lead.pk}").recipient == lead.contact.email
        assert WorkflowEvent.objects.get(key=f"agent-alert:{lead.pk}").recipient == team.email
    assert len(mailoutbox) == 6


def test_a_batch_takes_the_same_queries_for_three_leads_or_twelve(new_lead, django_assert_max_num_queries):
    few = run_batch([new_lead(timeline__urgency_level="urgent") for _ in range(3)])
    many = run_batch([new_lead(timeline__urgency_level="urgent") for _ in range(12)])

    assert many == few
    more = [new_lead(timeline__urgency_level="urgent") for _ in range(5)]
    with django_assert_max_num_queries(8):
        start_for_leads([(lead.pk, "created") for lead in more])


def test_a_batch_run_again_sends_nothing_twice(new_lead, mailoutbox):
    leads = [new_lead(timeline__urgency_level="high") for _ in range(2)]

    run_batch(leads)
    run_batch(leads)

    assert FollowUpTask.objects.filter(lead__in=leads).count() == 2
    assert len(mailoutbox) == 4


def test_in_a_batch_a_failed_send_releases_its_claim_for_the_next_run(new_lead, mailoutbox, settings):
    leads = [new_lead() for _ in range(2)]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens

    run_batch(leads)  # logged, not raised: the task goes on with the next leads

    assert FollowUpTask.objects.filter(lead__in=leads).count() == 2
    assert not WorkflowEvent.objects.filter(kind="welcome_email").exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    run_batch(leads)
    assert sorted(message.to[0] for message in mailoutbox) == sorted(lead.contact.email for lead in leads)
