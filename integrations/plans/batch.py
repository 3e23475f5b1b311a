"""Running the due steps of many claimed enrolments together: the path taken at scale
(100,000 leads with a step due in the same minute).

One chunk (``run_chunk``) is one transaction with a constant number of queries, however
many enrolments it holds: it locks the chunk's enrolments (those whose claim is still
this lease) and their leads, loads the leads' contacts, consents and messages of the day,
the plans' steps and the runs already recorded, then runs each enrolment's next step in
memory with the scheduler's own rules (``scheduler.message_hold``: consent, opt-outs,
quiet hours, the daily cap at send time; a skip is recorded with its reason), inserts
the runs in one statement (unique per enrolment and step: a double rolls the whole chunk
back) and moves the enrolments on in one statement per distinct outcome.

It runs messages and waits, the steps that make up the volume. An enrolment whose next
step is another kind (a task, a status or tag change, a note to the manager) is left,
still claimed, to the one-at-a-time path (``scheduler.run_enrolment``).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.template import TemplateSyntaxError
from django.utils import timezone

from integrations.plans import rules, scheduler, templating
from integrations.plans.delivery import OUTBOX
from integrations.plans.fields import agent_phones_of, merge_fields, uses_listing
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
from leads.models import Lead

BATCH_KINDS = MESSAGE_KINDS | {StepKind.WAIT}
ENROLMENT_FIELDS = ("state", "state_reason", "ended_at", "next_due_at", "next_position", "claimed_until")


class ChunkDoubled(RuntimeError):
    """A step of the chunk already ran for its enrolment (nothing of the chunk was kept)."""


@dataclass
class ChunkResult:
    ran: int = 0
    messages: list[StepRun] = field(default_factory=list)  # recorded messages to send, once committed
    again: list[int] = field(default_factory=list)  # their next step is due now too: still claimed
    one_by_one: list[int] = field(default_factory=list)  # a step of another kind: still claimed


@dataclass
class _Loaded:
    leads: dict[int, Lead]
    steps: dict[int, list[PlanStep]]
    done: set[tuple[int, int]]
    consents: dict[int, dict[str, Consent]]
    sent_today: Counter
    agent_phones: dict[int, str]


def run_chunk(enrolment_ids: list[int], lease: datetime, now: datetime) -> ChunkResult:
    """Run the next step of each enrolment of the chunk still claimed under ``lease``
    (as at ``now``), in one transaction; ``ChunkDoubled`` when one had already run."""
    result = ChunkResult()
    with transaction.atomic():
        enrolments = list(
            Enrolment.objects.select_for_update(of=("self",))
            .filter(pk__in=list(enrolment_ids), claimed_until=lease)
            .order_by("pk")
        )
        if not enrolments:
            return result
        loaded = _load(enrolments, now)
        runs: list[StepRun] = []
        for enrolment in enrolments:
            run = _next(enrolment, loaded, now, result)
            if run is not None:
                runs.append(run)
        try:
            with transaction.atomic():
                StepRun.objects.bulk_create(runs)
        except IntegrityError as error:
            raise ChunkDoubled(f"A step of the chunk already ran: {error}") from None
        _save(enrolments, exclude=set(result.one_by_one))
    result.ran = len(runs)
    result.messages = [run for run in runs if run.status == RunState.PENDING]
    return result


def _load(enrolments: list[Enrolment], now: datetime) -> _Loaded:
    ids = [enrolment.pk for enrolment in enrolments]
    # The leads' rows are locked (in one order) so that two plans of a lead count its daily cap in turn.
    leads = {
        lead.pk: lead
        for lead in Lead.objects.select_for_update(no_key=True, of=("self",))
        .select_related("contact", "preferences", "team", "assigned_to__manager")
        .filter(pk__in={enrolment.lead_id for enrolment in enrolments})
        .order_by("pk")
    }
    steps: dict[int, list[PlanStep]] = defaultdict(list)
    for step in PlanStep.objects.filter(plan_id__in={e.plan_id for e in enrolments}).order_by("position", "pk"):
        steps[step.plan_id].append(step)
    done = set(StepRun.objects.filter(enrolment_id__in=ids, step__isnull=False).values_list("enrolment_id", "step_id"))
    consents: dict[int, dict[str, Consent]] = defaultdict(dict)
    for consent in Consent.objects.filter(lead_id__in=list(leads)):
        consents[consent.lead_id][consent.channel] = consent
    return _Loaded(
        leads=leads,
        steps=steps,
        done=done,
        consents=consents,
        sent_today=_sent_today(leads, now),
        agent_phones=agent_phones_of(lead.assigned_to_id for lead in leads.values() if lead.assigned_to_id),
    )


def _sent_today(leads: dict[int, Lead], now: datetime) -> Counter:
    """The automated messages each lead was sent (or is being sent) on its local day."""
    bounds = {pk: rules.local_day_bounds(now, rules.lead_zone(lead)) for pk, lead in leads.items()}
    counted = Counter()
    if not bounds:
        return counted
    rows = StepRun.objects.filter(
        enrolment__lead_id__in=list(leads),
        channel__in=[Channel.EMAIL, Channel.TEXT],
        status__in=scheduler.COUNTED,
        created_at__gte=min(start for start, _ in bounds.values()),
        created_at__lt=max(end for _, end in bounds.values()),
    ).values_list("enrolment__lead_id", "created_at")
    for lead_id, created_at in rows:
        start, end = bounds[lead_id]
        if start <= created_at < end:
            counted[lead_id] += 1
    return counted


def _next_step(enrolment: Enrolment, loaded: _Loaded) -> PlanStep | None:
    for step in loaded.steps.get(enrolment.plan_id, ()):
        if step.position >= enrolment.next_position and (enrolment.pk, step.pk) not in loaded.done:
            return step
    return None


def _end(enrolment: Enrolment, state: str, why: str, now: datetime) -> None:
    enrolment.state, enrolment.state_reason, enrolment.ended_at, enrolment.next_due_at = state, why, now, None
    enrolment.claimed_until = None


def _next(enrolment: Enrolment, loaded: _Loaded, now: datetime, result: ChunkResult) -> StepRun | None:
    """Run the enrolment's next step in memory (as ``scheduler._run_next_step`` does);
    returns the run to record, or None."""
    lead = loaded.leads.get(enrolment.lead_id)
    if enrolment.state != EnrolmentState.ACTIVE or enrolment.next_due_at is None or enrolment.next_due_at > now:
        enrolment.claimed_until = None
        return None
    if lead is None or lead.archived_at is not None:
        _end(enrolment, EnrolmentState.STOPPED, "The lead was archived.", now)
        return None
    enrolment.lead = lead  # with its contact: what delivery.deliver_many reads
    step = _next_step(enrolment, loaded)
    if step is None:
        _end(enrolment, EnrolmentState.FINISHED, "Every step ran.", now)
        return None
    if step.kind not in BATCH_KINDS:
        result.one_by_one.append(enrolment.pk)
        return None
    run = StepRun(enrolment=enrolment, step=step, position=step.position, kind=step.kind, created_at=now)
    next_due = now
    if step.kind == StepKind.WAIT:
        run.status = RunState.DONE
        next_due = rules.wait_end(step, now=now, tz=rules.lead_zone(lead))
    else:
        hold = scheduler.message_hold(lead, step, now, loaded.consents.get(lead.pk, {}), loaded.sent_today[lead.pk])
        if isinstance(hold, scheduler._Deferred):
            enrolment.next_due_at, enrolment.state_reason, enrolment.claimed_until = hold.until, hold.why, None
            return None
        _message(run, step, lead, hold, loaded, now)
    loaded.done.add((enrolment.pk, step.pk))
    enrolment.next_position, enrolment.next_due_at, enrolment.state_reason = step.position + 1, next_due, ""
    if next_due > now:
        enrolment.claimed_until = None
    elif _next_step(enrolment, loaded) is None:  # that was the last step: finish now
        _end(enrolment, EnrolmentState.FINISHED, "Every step ran.", now)
    else:
        result.again.append(enrolment.pk)  # still claimed: its next step runs in the next round
    return run


def _message(run: StepRun, step: PlanStep, lead: Lead, hold: str | None, loaded: _Loaded, now: datetime) -> None:
    run.channel = rules.STEP_CHANNELS[step.kind]
    if hold:
        run.status, run.reason = RunState.SKIPPED, hold
        return
    fields = merge_fields(
        lead, channel=run.channel, agent_phones=loaded.agent_phones, listing=uses_listing(step.subject, step.body)
    )
    try:
        scheduler._render_message(run, step, lead, fields)
    except (TemplateSyntaxError, templating.TemplateInvalid) as error:  # saved around the checks
        run.status, run.reason = RunState.FAILED, f"The template does not render: {error}"[:300]
        return
    run.status, run.next_attempt_at = RunState.PENDING, OUTBOX.requeue_time(now)
    run.unsubscribe_link = fields["unsubscribe_url"] if run.channel == Channel.EMAIL else ""  # for its header
    loaded.sent_today[lead.pk] += 1


def _save(enrolments: list[Enrolment], *, exclude: set[int]) -> None:
    """Write the enrolments' new state: one UPDATE per distinct outcome (a chunk of leads
    at the same step shares one), not one per enrolment."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for enrolment in enrolments:
        if enrolment.pk not in exclude:
            groups[tuple(getattr(enrolment, name) for name in ENROLMENT_FIELDS)].append(enrolment.pk)
    updated_at = timezone.now()
    for values, ids in groups.items():
        changes = dict(zip(ENROLMENT_FIELDS, values, strict=True))
        Enrolment.objects.filter(pk__in=ids).update(**changes, updated_at=updated_at)
