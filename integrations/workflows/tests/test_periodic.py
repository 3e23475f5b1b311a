from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.workflows.services import mark_sla_breaches, send_overdue_digest, start_for_leads
from leads.models import FollowUpTask, Lead
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_uncontacted_lead_past_its_deadline_is_breached_and_escalated_once(new_lead, manager, mailoutbox):
    # given an urgent lead that arrived 10 minutes ago and was never contacted
    lead = new_lead(minutes_ago=10, timeline__urgency_level="urgent", contact__first_name="Linus")
    start_for_leads([(lead.pk, "created")])
    mailoutbox.clear()

    # when the periodic job runs twice
    first = mark_sla_breaches(timezone.now())
    second = mark_sla_breaches(timezone.now())

    # then the SLA is breached and the manager hears about it once
    lead.refresh_from_db()
    assert lead.sla_status == "breached"
    assert (first["breached"], first["escalated"]) == (1, 1)
    assert (second["breached"], second["escalated"]) == (0, 0)
    (escalation,) = mailoutbox
    assert escalation.to == [manager.email]
    assert escalation.subject.startswith(f"Missed first contact: Linus {lead.contact.last_name}")
    assert "has not contacted them yet" in escalation.body


def test_a_lead_still_within_its_deadline_stays_pending(new_lead, mailoutbox):
    lead = new_lead(minutes_ago=30, timeline__urgency_level="high")
    start_for_leads([(lead.pk, "created")])
    mailoutbox.clear()

    result = mark_sla_breaches(timezone.now())

    lead.refresh_from_db()
    assert lead.sla_status == "pending"
    assert result == {"met": 0, "breached": 0, "escalated": 0}
    assert mailoutbox == []


def test_breaches_without_a_manager_are_marked_but_not_mailed(mailoutbox):
    lone_agent = UserFactory(username="lone_wolf")
    lead = LeadFactory(assigned_to=lone_agent, sla_due_at=timezone.now() - timedelta(minutes=1))

    result = mark_sla_breaches(timezone.now())

    assert Lead.objects.get(pk=lead.pk).sla_status == "breached"
    assert result["escalated"] == 0
    assert mailoutbox == []


def test_archived_leads_are_neither_breached_nor_escalated(new_lead, mailoutbox):
    # given an uncontacted lead past its deadline, archived before the job ran
    lead = new_lead(minutes_ago=10, timeline__urgency_level="urgent")
    start_for_leads([(lead.pk, "created")])
    Lead.objects.filter(pk=lead.pk).update(archived_at=timezone.now())
    mailoutbox.clear()

    result = mark_sla_breaches(timezone.now())

    assert Lead.objects.get(pk=lead.pk).sla_status == "pending"
    assert result == {"met": 0, "breached": 0, "escalated": 0}
    assert mailoutbox == []


def test_an_archived_breached_lead_is_not_escalated(new_lead, mailoutbox):
    # given a lead breached and not escalated yet (the job had not run), then archived
    lead = new_lead(sla_status="breached", sla_due_at=timezone.now() - timedelta(hours=1))
    Lead.objects.filter(pk=lead.pk).update(archived_at=timezone.now())

    assert mark_sla_breaches(timezone.now())["escalated"] == 0
    assert mailoutbox == []


def test_contacts_the_after_save_run_missed_are_settled_by_the_periodic_job(new_lead):
    due = timezone.now() - timedelta(hours=1)
    on_time = new_lead(sla_due_at=due, first_contacted_at=due - timedelta(minutes=1))
    late = new_lead(sla_due_at=due, first_contacted_at=due + timedelta(minutes=1))

    result = mark_sla_breaches(timezone.now())

    assert Lead.objects.get(pk=on_time.pk).sla_status == "met"
    assert Lead.objects.get(pk=late.pk).sla_status == "breached"
    assert (result["met"], result["breached"], result["escalated"]) == (1, 1, 0)


def test_each_agent_gets_one_digest_a_day_of_their_overdue_follow_ups(
    team, other_agent, mailoutbox, django_assert_max_num_queries
):
    # given overdue, future and done tasks for two agents, and an unassigned task on one agent's lead
    now = timezone.now()
    mine = LeadFactory(assigned_to=team, contact__first_name="Mae", contact__last_name="Jemison")
    theirs = LeadFactory(assigned_to=other_agent)
    FollowUpTask.objects.create(
        lead=mine, assigned_to=team, title="Send Oakland listings", due_at=now - timedelta(days=2)
    )
    FollowUpTask.objects.create(
        lead=mine, assigned_to=None, title="Call back about financing", due_at=now - timedelta(hours=3)
    )
    FollowUpTask.objects.create(lead=mine, assigned_to=team, title="Book a showing", due_at=now + timedelta(hours=3))
    FollowUpTask.objects.create(
        lead=mine, assigned_to=team, title="Done already", due_at=now - timedelta(days=1), completed_at=now
    )
    FollowUpTask.objects.create(
        lead=theirs, assigned_to=other_agent, title="Their task", due_at=now - timedelta(hours=1)
    )

    # when the digest runs, then again the same day, then the next day
    with django_assert_max_num_queries(1 + 2 * 6):
        first = send_overdue_digest(now)
    same_day = send_overdue_digest(now + timedelta(minutes=5))
    next_day = send_overdue_digest(now + timedelta(days=1))

    # then each agent got one digest per day listing only their overdue tasks, most overdue first
    assert (first, same_day, next_day) == (2, 0, 2)
    digest = next(message for message in mailoutbox[:2] if message.to == [team.email])
    assert digest.subject.startswith("2 overdue follow-ups")
    body = digest.body.replace("\xa0", " ")  # timesince keeps numbers and units together
    assert body.index("Send Oakland listings (Mae Jemison)") < body.index("Call back about financing (Mae Jemison)")
    assert "2 days overdue" in body
    assert "Book a showing" not in body and "Done already" not in body and "Their task" not in body
    html, _ = digest.alternatives[0]
    assert "Send Oakland listings" in html


def test_the_digest_leaves_out_follow_ups_on_archived_leads(team, mailoutbox):
    # given an overdue task on an archived lead and one on a working lead
    now = timezone.now()
    archived = LeadFactory(assigned_to=team, archived_at=now - timedelta(hours=1))
    working = LeadFactory(assigned_to=team)
    FollowUpTask.objects.create(lead=archived, assigned_to=team, title="Archived task", due_at=now - timedelta(days=1))
    FollowUpTask.objects.create(lead=working, assigned_to=team, title="Working task", due_at=now - timedelta(days=1))

    assert send_overdue_digest(now) == 1
    (digest,) = mailoutbox
    assert "Working task" in digest.body
    assert "Archived task" not in digest.body


def test_no_digest_when_every_overdue_follow_up_is_on_an_archived_lead(team, mailoutbox):
    lead = LeadFactory(assigned_to=team, archived_at=timezone.now())
    FollowUpTask.objects.create(lead=lead, assigned_to=team, title="Old", due_at=timezone.now() - timedelta(days=1))

    assert send_overdue_digest(timezone.now()) == 0
    assert mailoutbox == []


def test_no_digest_for_an_agent_with_nothing_overdue(team, mailoutbox):
    lead = LeadFactory(assigned_to=team)
    FollowUpTask.objects.create(lead=lead, assigned_to=team, title="Later", due_at=timezone.now() + timedelta(days=1))

    assert send_overdue_digest(timezone.now()) == 0
    assert mailoutbox == []
