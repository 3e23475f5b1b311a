"""Texts on the batch path (``delivery.deliver_many``): claimed with the chunk's emails in one
statement, re-checked at send time, handed to the (loopback) SMS provider over one keep-alive
session, settled in bulk; a chunk of texts costs the same queries however many it holds, and a
text the provider took is never handed over again."""

from datetime import timedelta

from django.utils import timezone

from integrations.crm.tests.conftest import Reply
from integrations.plans import batch, delivery, scheduler, services
from integrations.plans.models import RunState, StepKind, StepRun
from integrations.plans.tests.conftest import deliver_due, plan_with
from integrations.sms.models import SmsMessage, SmsStatus
from leads.tests.factories import LeadFactory

MAX_QUERIES_PER_CHUNK = 20  # 37 for the two rounds (text, wait), with the test transaction's savepoints


def _noon():
    return timezone.now().replace(hour=14, minute=0, second=0, microsecond=0)  # the leads' zone: UTC


def _consenting_leads(agent, count: int) -> list:
    leads = [LeadFactory(assigned_to=agent) for _ in range(count)]
    for lead in leads:
        services.set_consent(lead=lead, channel="text", granted=True, source="form")
    return leads


def _claim_texts(agent, count: int, now):
    plan = plan_with({"kind": StepKind.SEND_TEXT, "body": "Hi {{ first_name }}"}, {"kind": "wait", "wait_minutes": 60})
    for lead in _consenting_leads(agent, count):
        services.enrol(lead=lead, plan=plan, reason="t", now=now)
    ids, lease = scheduler.claim_due(now)
    assert len(ids) == count
    return ids, lease


def test_a_chunk_of_3_or_40_texts_costs_the_same_queries(agent, provider, django_assert_max_num_queries):
    # given a chunk of 3 leads due for a text then a wait, at noon in their zone, run
    noon = _noon()
    ids, lease = _claim_texts(agent, 3, noon)
    with django_assert_max_num_queries(2 * MAX_QUERIES_PER_CHUNK) as small:  # two rounds: the text, the wait
        assert scheduler.run_claimed(ids, lease, noon) == 6

    # when a chunk of 40 runs
    ids, lease = _claim_texts(agent, 40, noon)
    with django_assert_max_num_queries(2 * MAX_QUERIES_PER_CHUNK) as large:
        assert scheduler.run_claimed(ids, lease, noon) == 80

    # then the queries did not grow with the chunk, and the provider took each text once
    assert len(large) == len(small)
    taken = [text for text in provider.texts if text.sid]
    assert len(taken) == len(provider.texts) == 43
    assert len({text.form["To"] for text in taken}) == 43
    assert StepRun.objects.filter(kind=StepKind.SEND_TEXT, status=RunState.SENT).count() == 43
    sids = set(SmsMessage.objects.filter(status=SmsStatus.QUEUED).values_list("provider_sid", flat=True))
    assert sids == {text.sid for text in taken}
    assert all(text.form["StatusCallback"].startswith("https://leads.example.com/") for text in taken)


def test_texts_opted_out_or_in_quiet_hours_at_send_time_are_not_sent(agent, provider):
    # given a chunk of three recorded texts at noon; then one lead texts STOP (opt-out)
    noon = _noon()
    ids, lease = _claim_texts(agent, 3, noon)
    result = batch.run_chunk(ids, lease, noon)
    runs = sorted(result.messages, key=lambda run: run.pk)
    opted_out = runs[0].enrolment.lead
    opted_out.contact.sms_opt_out = True
    opted_out.contact.save()

    # when they are sent at 22:00 (quiet hours), then the two others at noon
    night = noon.replace(hour=22)
    assert delivery.deliver_many(runs, connection=None, now=night) == 0
    assert provider.texts == []
    later = StepRun.objects.filter(pk__in=[run.pk for run in runs[1:]])
    assert {(run.status, run.attempts, run.claimed_until) for run in later} == {(RunState.PENDING, 0, None)}
    assert {run.next_attempt_at for run in later} == {noon.replace(hour=9) + timedelta(days=1)}

    # then the opt-out is recorded as skipped at send time, and the others wait for the morning
    skipped = StepRun.objects.get(pk=runs[0].pk)
    assert skipped.status == RunState.SKIPPED and skipped.reason.startswith("At send time: The lead opted out")


def test_a_text_the_provider_refused_for_now_is_retried_once_and_the_others_never_again(agent, provider):
    # given a chunk of four recorded texts, the provider busy (503) for the first one handed over
    noon = _noon()
    ids, lease = _claim_texts(agent, 4, noon)
    result = batch.run_chunk(ids, lease, noon)
    provider.answer(Reply(503, {"message": "busy"}))
    with delivery.shared_sms_session() as session:
        assert delivery.deliver_many(result.messages, connection=None, sms_session=session, now=noon) == 3

    # when the sweep comes after the backoff, twice
    retrying = StepRun.objects.get(status=RunState.RETRYING)
    assert retrying.sms_message.status == SmsStatus.NOT_SENT and not retrying.sms_message.provider_sid
    later = timezone.now() + timedelta(hours=2)
    first, second = deliver_due(later), deliver_due(later)

    # then only the refused one went again, once; every lead got exactly one text
    assert (first, second) == (["sent"], [])
    taken = [text.form["To"] for text in provider.texts if text.sid]
    assert len(taken) == len(set(taken)) == 4
    assert StepRun.objects.filter(status=RunState.SENT).count() == 4
