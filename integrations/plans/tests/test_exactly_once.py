"""Each step exactly once per enrolment: two schedulers at once (PostgreSQL, threads with
their own connections, committing for real) and a worker that died mid-step."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from integrations.outbox import Outcome
from integrations.plans import delivery, scheduler, services
from integrations.plans.models import RunState, StepKind, StepRun
from integrations.plans.tests.conftest import deliver_due, plan_with, received, record_without_sending
from leads.tests.concurrency import run_at_once
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_run_recorded_before_a_crash_is_sent_once_by_the_sweep(lead, smtp_inbox):
    # given a step whose run was recorded, and whose worker died before sending it
    plan = plan_with({"kind": StepKind.SEND_EMAIL, "subject": "Once"})
    enrolment = services.enrol(lead=lead, plan=plan, reason="t")
    assert record_without_sending() == 1
    (run,) = StepRun.objects.filter(enrolment=enrolment)
    assert run.status == RunState.PENDING and smtp_inbox.envelopes == []

    # when the scheduler runs again, then the sweep after the requeue time, twice
    assert scheduler.run_due() == 0  # the step is not run (nor rendered, nor sent) again
    later = timezone.now() + timedelta(seconds=301)
    first, second = deliver_due(later), deliver_due(later)

    # then the email went exactly once
    assert (first, second) == (["sent"], [])
    assert [message["Subject"] for message in received(smtp_inbox)] == ["Once"]
    assert StepRun.objects.filter(enrolment=enrolment).count() == 1


def test_an_attempt_in_flight_is_not_sent_twice_and_a_text_the_provider_took_is_not_resent(
    lead, provider, django_capture_on_commit_callbacks
):
    noon = timezone.now().replace(hour=14, minute=0)
    services.set_consent(lead=lead, channel="text", granted=True, source="form")
    enrolment = services.enrol(
        lead=lead, plan=plan_with({"kind": StepKind.SEND_TEXT, "body": "Hi"}), reason="t", now=noon
    )
    record_without_sending(noon)
    run = StepRun.objects.get(enrolment=enrolment)

    # an attempt holds the run: a second attempt meanwhile sends nothing
    claimed = delivery.OUTBOX.claim(run.pk)
    assert delivery.deliver(run.pk) == Outcome.BUSY
    # the holder handed the text over, then died before recording it
    delivery._send_text(claimed)
    assert len(provider.texts) == 1
    # once its claim expired, the retry finds the provider's sid and sends nothing more
    StepRun.objects.filter(pk=run.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert delivery.deliver(run.pk) == Outcome.SENT
    assert len(provider.texts) == 1
    assert StepRun.objects.get(pk=run.pk).status == RunState.SENT


def test_a_scheduler_that_lost_its_claim_runs_nothing(lead):
    enrolment = services.enrol(lead=lead, plan=plan_with({"kind": StepKind.SEND_EMAIL}), reason="t")
    ids, lease = scheduler.claim_due()
    assert ids == [enrolment.pk]
    # the claim expired and another scheduler took it
    later = timezone.now() + timedelta(seconds=200)
    other_ids, other_lease = scheduler.claim_due(later)
    assert other_ids == [enrolment.pk]

    assert scheduler.run_claimed(ids, lease) == 0
    assert scheduler.run_claimed(other_ids, other_lease, later) == 1
    assert StepRun.objects.filter(enrolment=enrolment).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_run_each_step_once(smtp_inbox):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent schedulers are tested in the PostgreSQL pass (DATABASE_URL=postgres://...)")
    # given 40 leads due for the same two-email plan
    agent = UserFactory()
    plan = plan_with({"kind": StepKind.SEND_EMAIL, "subject": "one"}, {"kind": StepKind.SEND_EMAIL, "subject": "two"})
    leads = [LeadFactory(assigned_to=agent) for _ in range(40)]
    for lead in leads:
        services.enrol(lead=lead, plan=plan, reason="t")

    # when two schedulers claim and run at the same moment, each sending what it recorded
    def scheduler_pass(_):
        ran = scheduler.run_due()
        return ran, deliver_due(timezone.now() + timedelta(seconds=301))

    results, errors = run_at_once(2, scheduler_pass)

    # then every step ran once and every email arrived once
    assert errors == []
    assert sum(ran for ran, _ in results) == 80
    assert StepRun.objects.count() == 80
    recipients = sorted(tuple(envelope.rcpt_tos) for envelope in smtp_inbox.envelopes)
    assert len(recipients) == 80
    assert sorted(set(recipients)) == sorted({(lead.contact.email,) for lead in leads})
    assert all(recipients.count(address) == 2 for address in set(recipients))


def test_with_a_broker_the_job_hands_claimed_batches_to_the_workers_once(agent, smtp_inbox, settings):
    from integrations.plans.tasks import run_claimed_enrolments

    # given 7 leads due, batches of 3
    settings.PLANS_BATCH_SIZE = 3
    plan = plan_with({"kind": StepKind.SEND_EMAIL})
    for _ in range(7):
        services.enrol(lead=LeadFactory(assigned_to=agent), plan=plan, reason="t")
    handed: list[tuple[list[int], object]] = []

    # when the job runs twice before any worker took its work
    first = scheduler.run_due(fan_out=lambda ids, lease: handed.append((ids, lease)))
    second = scheduler.run_due(fan_out=lambda ids, lease: handed.append((ids, lease)))

    # then every enrolment was handed out once, and the workers run each once
    assert (first, second) == (7, 0)
    assert sorted(pk for ids, _ in handed for pk in ids) == sorted(plan.enrolments.values_list("pk", flat=True))
    for ids, lease in handed:
        run_claimed_enrolments(ids, lease.isoformat())
    assert StepRun.objects.count() == 7
