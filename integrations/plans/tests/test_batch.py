"""The batch path (``batch.run_chunk`` + ``delivery.deliver_many``): a chunk of due
enrolments costs the same number of queries however many it holds, and keeps every
send-time rule of the one-at-a-time path."""

from datetime import timedelta

from django.utils import timezone

from integrations.plans import batch, delivery, scheduler, services
from integrations.plans.models import Enrolment, EnrolmentState, RunState, StepKind, StepRun
from integrations.plans.tasks import run_claimed_enrolments
from integrations.plans.tests.conftest import deliver_due, plan_with, received
from leads.tests.factories import LeadFactory

MAX_QUERIES_PER_CHUNK = 16


def _enrol_many(agent, plan, count: int) -> list:
    leads = [LeadFactory(assigned_to=agent) for _ in range(count)]
    for lead in leads:
        services.enrol(lead=lead, plan=plan, reason="t")
    return leads


def _claim_a_chunk(agent, count: int):
    plan = plan_with({"kind": StepKind.SEND_EMAIL}, {"kind": StepKind.WAIT, "wait_minutes": 60})
    _enrol_many(agent, plan, count)
    ids, lease = scheduler.claim_due()
    assert len(ids) == count
    return ids, lease


def test_a_chunk_costs_the_same_queries_for_3_or_40_enrolments(agent, smtp_inbox, django_assert_max_num_queries):
    # given a chunk of 3 leads due for an email then a wait, run
    ids, lease = _claim_a_chunk(agent, 3)
    with django_assert_max_num_queries(2 * MAX_QUERIES_PER_CHUNK) as small:  # two rounds: the email, the wait
        assert scheduler.run_claimed(ids, lease) == 6

    # when a chunk of 40 runs
    ids, lease = _claim_a_chunk(agent, 40)
    with django_assert_max_num_queries(2 * MAX_QUERIES_PER_CHUNK) as large:
        assert scheduler.run_claimed(ids, lease) == 80

    # then the number of queries did not grow with the chunk, and every email arrived once
    assert len(large) == len(small)
    assert len(smtp_inbox.envelopes) == 43
    assert len({tuple(envelope.rcpt_tos) for envelope in smtp_inbox.envelopes}) == 43
    assert StepRun.objects.filter(kind=StepKind.SEND_EMAIL, status=RunState.SENT).count() == 43


def test_one_chunk_keeps_opt_outs_the_daily_cap_across_plans_and_other_step_kinds(agent, smtp_inbox, settings):
    # given, due together: a lead who opted out, a lead in two email plans with a cap of one
    # message a day, and a lead whose plan starts with a task (not a batch kind)
    settings.PLANS_DAILY_MESSAGE_CAP = 1
    opted_out, busy, tasked = (LeadFactory(assigned_to=agent) for _ in range(3))
    opted_out.contact.email_opt_out = True
    opted_out.contact.save()
    first, second = plan_with({"kind": StepKind.SEND_EMAIL}), plan_with({"kind": StepKind.SEND_EMAIL})
    services.enrol(lead=opted_out, plan=first, reason="t")
    services.enrol(lead=busy, plan=first, reason="t")
    services.enrol(lead=busy, plan=second, reason="t")
    with_task = plan_with({"kind": StepKind.CREATE_TASK, "subject": "Call {{ first_name }}"}, {"kind": "send_email"})
    services.enrol(lead=tasked, plan=with_task, reason="t")

    # when one scheduler claims and runs them as one chunk
    ids, lease = scheduler.claim_due()
    assert len(ids) == 4
    scheduler.run_claimed(ids, lease)

    # then the opt-out is recorded as a skip with its reason, the busy lead got one email and
    # the other is put off to tomorrow, and the task then the email ran for the third lead
    skipped = StepRun.objects.get(enrolment__lead=opted_out)
    assert skipped.status == RunState.SKIPPED and "opted out" in skipped.reason
    busy_runs = StepRun.objects.filter(enrolment__lead=busy)
    assert [run.status for run in busy_runs] == [RunState.SENT]
    put_off = Enrolment.objects.get(lead=busy, state=EnrolmentState.ACTIVE)
    assert "Daily cap of 1" in put_off.state_reason and put_off.next_due_at > timezone.now()
    assert put_off.claimed_until is None
    assert [run.kind for run in StepRun.objects.filter(enrolment__lead=tasked)] == ["create_task", "send_email"]
    assert sorted(envelope.rcpt_tos[0] for envelope in smtp_inbox.envelopes) == sorted(
        [busy.contact.email, tasked.contact.email]
    )
    assert all(message["X-Plan-Enrolment"] for message in received(smtp_inbox))

    # and a second pass runs nothing again
    assert scheduler.run_due() == 0


def test_the_job_hands_out_no_more_than_a_runs_worth_until_the_workers_took_it(agent, smtp_inbox, settings):
    # given 6 leads due, batches of 2, at most 2 batches in flight
    settings.PLANS_BATCH_SIZE, settings.PLANS_MAX_BATCHES_PER_RUN = 2, 2
    _enrol_many(agent, plan_with({"kind": StepKind.SEND_EMAIL}), 6)
    handed: list[tuple[list[int], object]] = []

    def hand(ids, lease):
        handed.append((ids, lease))

    # when the job runs twice before the workers took anything, then once after
    first, second = scheduler.run_due(fan_out=hand), scheduler.run_due(fan_out=hand)
    for ids, lease in handed:
        run_claimed_enrolments(ids, lease.isoformat())
    third = scheduler.run_due(fan_out=hand)

    # then the second run waited for the first's work, and the third handed out the rest
    assert (first, second, third) == (4, 0, 2)
    assert len(smtp_inbox.envelopes) == 4


def test_a_chunk_recorded_by_a_worker_that_died_before_sending_is_sent_once_by_the_sweep(agent, smtp_inbox):
    # given a chunk whose runs were recorded, and whose worker died before sending them
    _enrol_many(agent, plan_with({"kind": StepKind.SEND_EMAIL, "subject": "Once"}), 5)
    ids, lease = scheduler.claim_due()
    result = batch.run_chunk(ids, lease, timezone.now())
    assert len(result.messages) == 5 and smtp_inbox.envelopes == []

    # when the scheduler runs again, a late bulk send holds one run, and the sweep comes twice
    assert scheduler.run_due() == 0
    held = delivery.OUTBOX.claim(result.messages[0].pk)
    assert delivery.deliver_many(result.messages[:1], connection=None) == 0  # in flight elsewhere
    delivery._finish(held, RunState.SENT)  # that attempt sent it (counted below as the server saw it)
    later = timezone.now() + timedelta(seconds=301)
    first, second = deliver_due(later), deliver_due(later)

    # then each of the other four went exactly once
    assert (sorted(first), second) == (["sent"] * 4, [])
    assert len(smtp_inbox.envelopes) == 4
    assert len({tuple(envelope.rcpt_tos) for envelope in smtp_inbox.envelopes}) == 4


def test_an_opt_out_between_a_chunk_and_its_bulk_send_is_honoured(agent, smtp_inbox):
    # given a chunk of two recorded emails, and one lead opting out before they are sent
    leads = _enrol_many(agent, plan_with({"kind": StepKind.SEND_EMAIL}), 2)
    ids, lease = scheduler.claim_due()
    result = batch.run_chunk(ids, lease, timezone.now())
    leads[0].contact.email_opt_out = True
    leads[0].contact.save()

    # when the chunk's emails are sent
    with delivery.shared_mail_connection() as mail:
        assert delivery.deliver_many(result.messages, connection=mail) == 1

    # then only the other lead's arrived, and the opt-out is recorded at send time
    assert [envelope.rcpt_tos for envelope in smtp_inbox.envelopes] == [[leads[1].contact.email]]
    skipped = StepRun.objects.get(enrolment__lead=leads[0])
    assert skipped.status == RunState.SKIPPED and skipped.reason.startswith("At send time: The lead opted out")
