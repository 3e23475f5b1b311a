"""Running plan steps: claim the enrolments that are due, run each one's next steps.

**Exactly once.** A scheduler first claims due enrolments (``claim_due``: on PostgreSQL
``SELECT … FOR UPDATE SKIP LOCKED`` then a lease in ``claimed_until``; on SQLite, which
has one writer at a time, a conditional UPDATE per enrolment). A step then runs in one
transaction that holds the enrolment's row lock and checks the lease is still its own,
records the step's ``StepRun`` (unique per enrolment and step) and moves the enrolment
on, together. Two schedulers never run the same step; a scheduler that crashed leaves
either nothing (rolled back: the step runs when its lease expires) or a committed run
(a message then waits in its outbox, ``delivery``, and is sent once by the sweep).

**In chunks.** ``run_claimed`` runs the claimed enrolments CHUNK at a time through
``batch.run_chunk``: the same rules in one transaction per chunk, with a constant number
of queries (the chunk's enrolments and leads locked, the runs inserted in one statement,
still unique per enrolment and step); the emails it recorded are then sent over one SMTP
connection, the texts over one keep-alive HTTP session to the SMS provider, and settled
in bulk (``delivery.deliver_many``). Steps other than messages and
waits run one enrolment at a time (``run_enrolment``), as does a chunk that failed.

**Send time.** Consent, opt-outs, quiet hours and the daily cap are read when the step
runs, not when the lead was enrolled: a step on a channel without consent is recorded
as skipped with the reason; a text due in quiet hours, or a message past the daily cap,
is not run but put off (to 9:00 lead-local, or the next day's 9:00).

**Editing a plan** never runs a done step again: the next step is the first at or after
``next_position`` with no run for the enrolment.
"""

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.template import TemplateSyntaxError
from django.utils import timezone

from integrations.plans import delivery, rules, templating
from integrations.plans.delivery import OUTBOX
from integrations.plans.fields import merge_fields
from integrations.plans.models import (
    MESSAGE_KINDS,
    Channel,
    Consent,
    Enrolment,
    EnrolmentState,
    PlanStep,
    RunState,
    StepKind,
    StepRun,
)
from leads.audit import history as audit
from leads.core.writes import lead_write
from leads.models import AuditChannel, FollowUpKind, FollowUpTask, Lead

logger = logging.getLogger(__name__)

PLANS_CONTEXT = audit.AuditContext(actor=None, channel=AuditChannel.TASK, request_id="plans")
MAX_STEPS_PER_CLAIM = 25
# Inside run_claimed: the ids of the messages recorded (once committed), sent there.
_send_here: ContextVar[list[int] | None] = ContextVar("plans_send_here", default=None)
FAN_OUT_CHUNK = 250  # enrolments per worker task
CHUNK = 250  # enrolments per batch transaction (batch.run_chunk)
COUNTED = (RunState.PENDING, RunState.RETRYING, RunState.SENT)


def _free(now: datetime) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)


def claim_due(now: datetime | None = None, *, limit: int | None = None, ids=None) -> tuple[list[int], datetime]:
    """Claim up to ``limit`` active enrolments whose next step is due (of ``ids`` when
    given); returns their ids and the lease they are held until."""
    now = now or timezone.now()
    limit = limit or settings.PLANS_BATCH_SIZE
    lease = timezone.now() + timedelta(seconds=settings.PLANS_CLAIM_SECONDS)
    due = Enrolment.objects.filter(state=EnrolmentState.ACTIVE, next_due_at__lte=now).filter(_free(now))
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    if connection.vendor == "postgresql":
        with transaction.atomic():
            taken = list(
                due.select_for_update(skip_locked=True)
                .order_by("next_due_at", "pk")
                .values_list("pk", flat=True)[:limit]
            )
            Enrolment.objects.filter(pk__in=taken).update(claimed_until=lease)
        return taken, lease
    taken = []
    for pk in due.order_by("next_due_at", "pk").values_list("pk", flat=True)[:limit]:
        if due.filter(pk=pk).update(claimed_until=lease):
            taken.append(pk)
    return taken, lease


def run_claimed(enrolment_ids: list[int], lease: datetime, now: datetime | None = None) -> int:
    """Run the due steps of claimed enrolments (as at ``now``, default: the clock's time
    at each round); returns how many steps ran. Chunks of CHUNK go through the batch
    path (``batch.run_chunk``: constant queries per chunk), round after round while
    their next step is due; an enrolment whose step is of another kind, or a chunk that
    failed as a whole, runs one enrolment at a time. The messages recorded are sent here
    once committed, over one SMTP connection and one HTTP session to the SMS provider (a
    worker that dies first leaves them to the sweep: they are recorded, due at their
    requeue time)."""
    from integrations.plans import batch

    ran = 0
    with delivery.shared_mail_connection() as mail, delivery.shared_sms_session() as texts:
        for start in range(0, len(enrolment_ids), CHUNK):
            pending = list(enrolment_ids[start : start + CHUNK])
            for _ in range(MAX_STEPS_PER_CLAIM):
                if not pending:
                    break
                try:
                    result = batch.run_chunk(pending, lease, now or timezone.now())
                except Exception:  # a double or a bad row: nothing of the chunk was kept; one at a time
                    logger.exception("Plan chunk of %s enrolments failed; running them one at a time", len(pending))
                    ran += _one_at_a_time(pending, lease, now, mail)
                    break
                ran += result.ran
                delivery.deliver_many(result.messages, connection=mail, sms_session=texts, now=now)
                ran += _one_at_a_time(result.one_by_one, lease, now, mail)
                pending = result.again
            else:
                Enrolment.objects.filter(pk__in=pending, claimed_until=lease).update(claimed_until=None)
    return ran


def _one_at_a_time(enrolment_ids: list[int], lease: datetime, now: datetime | None, mail) -> int:
    ran = 0
    recorded: list[int] = []
    token = _send_here.set(recorded)
    try:
        for enrolment_id in enrolment_ids:
            try:
                ran += run_enrolment(enrolment_id, lease, now)
            except Exception:  # one lead's failure must not hold up the others; its lease expires
                logger.exception("Plan enrolment %s failed; tried again once its claim expires", enrolment_id)
            while recorded:
                delivery.deliver(recorded.pop(0), connection=mail)
    finally:
        _send_here.reset(token)
    return ran


def run_due(now: datetime | None = None, *, fan_out=None) -> int:
    """The periodic job: claim a batch of due enrolments and run them here; returns the
    steps run. With ``fan_out(ids, lease)`` (the task queue, when there is a broker) it
    claims batch after batch, up to PLANS_MAX_BATCHES_PER_RUN, and hands each chunk of
    FAN_OUT_CHUNK to the workers instead; returns the enrolments handed out."""
    if fan_out is None:
        ids, lease = claim_due(now)
        return run_claimed(ids, lease, now)
    handed = 0
    # Back-pressure: no more in flight than the batches of one run, so that a backlog is not
    # claimed faster than the workers run it (its leases would expire in the queue, and be
    # claimed and queued again).
    room = settings.PLANS_BATCH_SIZE * settings.PLANS_MAX_BATCHES_PER_RUN - in_flight(now)
    for _ in range(max(0, room) // settings.PLANS_BATCH_SIZE):
        ids, lease = claim_due(now)
        for start in range(0, len(ids), FAN_OUT_CHUNK):
            fan_out(ids[start : start + FAN_OUT_CHUNK], lease)
        handed += len(ids)
        if len(ids) < settings.PLANS_BATCH_SIZE:
            break
    return handed


def in_flight(now: datetime | None = None) -> int:
    """Active enrolments claimed by a scheduler right now."""
    return Enrolment.objects.filter(state=EnrolmentState.ACTIVE, claimed_until__gt=now or timezone.now()).count()


def run_enrolment(enrolment_id: int, lease: datetime, now: datetime | None = None) -> int:
    """Run the claimed enrolment's steps while they are due (each in its own
    transaction), then let go of it; returns how many steps ran."""
    ran = 0
    for _ in range(MAX_STEPS_PER_CLAIM):
        outcome = _run_next_step(enrolment_id, lease, now or timezone.now())
        if outcome is None:
            return ran
        ran += 1
    Enrolment.objects.filter(pk=enrolment_id, claimed_until=lease).update(claimed_until=None)
    return ran


@dataclass(frozen=True)
class _Deferred:
    until: datetime
    why: str


@transaction.atomic
def _run_next_step(enrolment_id: int, lease: datetime, now: datetime) -> StepRun | None:
    """Run the enrolment's next step if it is due and the claim is still ours; returns
    the run, None when there is nothing more to run now (the claim is then let go)."""
    enrolment = (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("plan")
        .filter(pk=enrolment_id, claimed_until=lease)
        .first()
    )
    if enrolment is None:
        return None  # the claim expired and someone else holds it
    if enrolment.state != EnrolmentState.ACTIVE or enrolment.next_due_at is None or enrolment.next_due_at > now:
        return _release(enrolment)
    # The lead's row is locked so that two plans of one lead count its daily cap in turn.
    lead = (
        Lead.objects.select_for_update(no_key=True, of=("self",))
        .select_related("contact", "preferences", "team", "assigned_to__manager")
        .get(pk=enrolment.lead_id)
    )
    if lead.archived_at is not None:
        return _end(enrolment, EnrolmentState.STOPPED, "The lead was archived.", now)
    step = next_step(enrolment)
    if step is None:
        return _end(enrolment, EnrolmentState.FINISHED, "Every step ran.", now)
    result = run_step(enrolment, step, lead, now)
    if isinstance(result, _Deferred):
        enrolment.next_due_at, enrolment.state_reason = result.until, result.why
        return _release(enrolment)
    run, next_due = result
    enrolment.next_position = step.position + 1
    enrolment.next_due_at = next_due
    enrolment.state_reason = ""
    if next_due > now:
        return _release(enrolment) or run
    if next_step(enrolment) is None:  # that was the last step: finish now, not on another pass
        return _end(enrolment, EnrolmentState.FINISHED, "Every step ran.", now) or run
    enrolment.save(update_fields=["next_position", "next_due_at", "state_reason", "updated_at"])
    return run


def _release(enrolment: Enrolment) -> None:
    enrolment.claimed_until = None
    enrolment.save()
    return None


def _end(enrolment: Enrolment, state: str, why: str, now: datetime) -> None:
    enrolment.state, enrolment.state_reason, enrolment.ended_at, enrolment.next_due_at = state, why, now, None
    return _release(enrolment)


def next_step(enrolment: Enrolment) -> PlanStep | None:
    """The first step at or after the enrolment's position that has not run for it."""
    return (
        PlanStep.objects.filter(plan_id=enrolment.plan_id, position__gte=enrolment.next_position)
        .exclude(runs__enrolment=enrolment)
        .order_by("position", "pk")
        .first()
    )


def messages_today(lead: Lead, now: datetime) -> int:
    """The automated messages the lead was sent (or is being sent) on its local day."""
    start, end = rules.local_day_bounds(now, rules.lead_zone(lead))
    return StepRun.objects.filter(
        enrolment__lead=lead,
        channel__in=[Channel.EMAIL, Channel.TEXT],
        status__in=COUNTED,
        created_at__gte=start,
        created_at__lt=end,
    ).count()


def message_hold(
    lead: Lead, step: PlanStep, now: datetime, consents: dict, sent_today: int | None = None
) -> str | _Deferred | None:
    """Why the message step may not go now: a reason to skip it (str), a time to put it
    off to (quiet hours, daily cap), or None: it goes. Shared with the dry run and the
    batch (which passes ``sent_today``, the lead's messages today, loaded for the batch)."""
    channel = rules.STEP_CHANNELS[step.kind]
    refusal = rules.refusal(lead, channel, consents)
    if refusal:
        return refusal
    tz = rules.lead_zone(lead)
    if channel == Channel.TEXT and (until := rules.quiet_until(now, tz)):
        return _Deferred(until, f"Quiet hours: texts wait until {until.astimezone(tz):%H:%M %Z}.")
    if sent_today is None:
        sent_today = messages_today(lead, now)
    if sent_today >= settings.PLANS_DAILY_MESSAGE_CAP:
        until = rules.next_day_opening(now, tz)
        return _Deferred(until, f"Daily cap of {settings.PLANS_DAILY_MESSAGE_CAP} messages reached.")
    return None


def run_step(enrolment: Enrolment, step: PlanStep, lead: Lead, now: datetime):
    """Run one step: returns ``(run, next due time)`` or a ``_Deferred``."""
    run = StepRun(enrolment=enrolment, step=step, position=step.position, kind=step.kind, created_at=now)
    next_due = now
    if step.kind in MESSAGE_KINDS:
        consents = {consent.channel: consent for consent in Consent.objects.filter(lead=lead)}
        hold = message_hold(lead, step, now, consents)
        if isinstance(hold, _Deferred):
            return hold
        run.channel = rules.STEP_CHANNELS[step.kind]
        if hold:
            run.status, run.reason = RunState.SKIPPED, hold
        else:
            try:
                _render_message(run, step, lead)
            except (TemplateSyntaxError, templating.TemplateInvalid) as error:  # saved around the checks
                run.status, run.reason = RunState.FAILED, f"The template does not render: {error}"[:300]
                return _record(run), next_due
            run.status, run.next_attempt_at = RunState.PENDING, OUTBOX.requeue_time(now)
    elif step.kind == StepKind.WAIT:
        run.status = RunState.DONE
        next_due = rules.wait_end(step, now=now, tz=rules.lead_zone(lead))
    elif step.kind == StepKind.CREATE_TASK:
        fields = merge_fields(lead)
        title = templating.render_text(step.subject, fields) if step.subject else ""
        channel = step.get_task_channel_display() if step.task_channel else "Follow up"
        run.task = FollowUpTask.objects.create(
            lead=lead,
            assigned_to=lead.assigned_to,
            kind=FollowUpKind.FOLLOW_UP,
            title=(title or f"{channel}: {lead.contact.full_name}")[:200],
            due_at=now,
        )
        run.status, run.subject = RunState.DONE, run.task.title
    elif step.kind in (StepKind.CHANGE_STATUS, StepKind.ADD_TAG, StepKind.REMOVE_TAG):
        run.status = RunState.DONE
        _write_lead(lead, step, run)
    elif step.kind == StepKind.NOTIFY_MANAGER:
        _notify_manager(run, step, lead, now)
    return _record(run), next_due


def _record(run: StepRun) -> StepRun:
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        raise RuntimeError(f"Step {run.step_id} already ran for enrolment {run.enrolment_id}") from None
    if run.status == RunState.PENDING:
        inline = _send_here.get()
        if inline is not None:
            inline.append(run.pk)  # sent once run_enrolment returned (rolled back: a missing row, nothing sent)
        else:
            from integrations.plans.tasks import deliver_step_run

            OUTBOX.queue_after_commit(deliver_step_run, [run.pk])
    return run


def _render_message(run: StepRun, step: PlanStep, lead: Lead, fields: dict[str, str] | None = None) -> None:
    fields = fields if fields is not None else merge_fields(lead, channel=run.channel)
    if run.channel == Channel.EMAIL:
        rendered = templating.render_email(subject=step.subject, body=step.body, fields=fields)
        run.recipient, run.subject, run.text, run.html = (
            lead.contact.email,
            rendered.subject,
            rendered.text,
            rendered.html,
        )
    else:
        text = templating.render_text(step.body, fields)
        if "STOP" not in text.upper():
            text += "\nReply STOP to opt out."
        run.recipient, run.text = lead.contact.phone, text


def _write_lead(lead: Lead, step: PlanStep, run: StepRun) -> None:
    with lead_write(
        lead.public_id, context=PLANS_CONTEXT, leads=Lead.objects.filter(archived_at__isnull=True)
    ) as write:
        if step.kind == StepKind.CHANGE_STATUS:
            moved = write.change_status(step.status)
            run.subject = f"Status set to {step.status}" if moved else f"Already {step.status}"
        else:
            tags = list(write.lead.tags or [])
            if step.kind == StepKind.ADD_TAG and step.tag not in tags:
                write.lead.tags = [*tags, step.tag]
            elif step.kind == StepKind.REMOVE_TAG and step.tag in tags:
                write.lead.tags = [tag for tag in tags if tag != step.tag]
            run.subject = f"{step.get_kind_display()}: {step.tag}"


def _notify_manager(run: StepRun, step: PlanStep, lead: Lead, now: datetime) -> None:
    manager = lead.assigned_to.manager if lead.assigned_to_id else None
    if manager is None or not manager.is_active or not manager.email:
        run.status, run.reason = RunState.SKIPPED, "The lead's agent has no manager with an email."
        return
    fields = merge_fields(lead)
    subject = templating.render_text(step.subject, fields) if step.subject else ""
    body = templating.render_text(step.body, fields) if step.body else ""
    run.recipient = manager.email
    plan_name = run.enrolment.plan.name
    run.subject = (subject or f"Plan {plan_name}: {lead.contact.full_name}")[:300]
    run.text = body or f"The plan {plan_name} reached a step for {lead.contact.full_name} ({lead.public_id})."
    run.status, run.next_attempt_at = RunState.PENDING, OUTBOX.requeue_time(now)
