"""Writes of the plan editor (the managers' pages): a plan's settings, its steps, their
order. Each checks what it saves (``plan_check``, ``services.step_check``) and raises
``ValidationFailed`` with the errors by field, saving nothing.

Editing never re-runs a step: a step's run is unique per enrolment and step
(``StepRun``), and an enrolment goes on from its ``next_position``, so a step moved or
added before where a lead already is does not run for that lead."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from integrations.plans import services
from integrations.plans.models import Plan, PlanStep, TriggerKind
from leads.errors import ValidationFailed
from leads.models import User

POSITION_GAP = 10


def plan_check(plan: Plan) -> dict[str, list[str]]:
    """The plan's errors by field ({} when it may be saved): what each trigger needs."""
    errors: dict[str, list[str]] = {}
    if not (plan.name or "").strip():
        errors["name"] = ["Give the plan a name."]
    if plan.trigger == TriggerKind.STATUS_CHANGED and not plan.trigger_status:
        errors["trigger_status"] = ["Choose the status that starts the plan."]
    if plan.trigger == TriggerKind.TAG_ADDED and not plan.trigger_tags:
        errors["trigger_tags"] = ["Name at least one tag."]
    if plan.trigger in (TriggerKind.NO_CONTACT, TriggerKind.DATE_FIELD) and plan.trigger_days is None:
        errors["trigger_days"] = ["Say how many days."]
    if plan.trigger == TriggerKind.DATE_FIELD and not plan.trigger_date_field:
        errors["trigger_date_field"] = ["Choose the date."]
    if plan.trigger == TriggerKind.WEB_ACTIVITY:
        if not plan.trigger_web_kind:
            errors["trigger_web_kind"] = ["Choose what the lead does on the website."]
        if not plan.trigger_count:
            errors["trigger_count"] = ["Say how many times (1 or more)."]
        if not plan.trigger_window_hours:
            errors["trigger_window_hours"] = ["Say within how many hours (1 or more)."]
    return errors


def plan_save(*, plan: Plan, actor: User) -> Plan:
    """Save the plan's settings (a new plan: created by ``actor``, in their team)."""
    errors = plan_check(plan)
    if errors:
        raise ValidationFailed(fields=errors)
    if plan.pk is None:
        plan.created_by = actor
        if plan.team_id is None and getattr(actor, "team_id", None):
            plan.team_id = actor.team_id
    plan.name = plan.name.strip()
    plan.save()
    return plan


def step_save(*, step: PlanStep) -> PlanStep:
    """Save a step (a new one goes last); only the fields its kind uses are kept."""
    errors = services.step_check(step)
    if errors:
        raise ValidationFailed(fields=errors)
    _clear_unused(step)
    with transaction.atomic():
        if step.pk is None:
            Plan.objects.select_for_update().filter(pk=step.plan_id).first()
            last = PlanStep.objects.filter(plan_id=step.plan_id).aggregate(last=Max("position"))["last"]
            step.position = (last or 0) + POSITION_GAP
        step.save()
        Plan.objects.filter(pk=step.plan_id).update(updated_at=timezone.now())
    return step


USED_FIELDS = {
    "send_email": {"subject", "body"},
    "send_text": {"body"},
    "create_task": {"subject", "task_channel"},
    "wait": {"wait_minutes", "wait_until_weekday", "wait_until_time"},
    "change_status": {"status"},
    "add_tag": {"tag"},
    "remove_tag": {"tag"},
    "notify_manager": {"subject", "body"},
}
BLANKS = {
    "subject": "",
    "body": "",
    "task_channel": "",
    "wait_minutes": None,
    "wait_until_weekday": None,
    "wait_until_time": None,
    "status": "",
    "tag": "",
}


def _clear_unused(step: PlanStep) -> None:
    used = USED_FIELDS.get(step.kind, set())
    for name, blank in BLANKS.items():
        if name not in used:
            setattr(step, name, blank)


def step_delete(*, step: PlanStep) -> None:
    """Delete the step; its past runs stay (with no step) in the lead's history."""
    step.delete()


def step_move(*, step: PlanStep, direction: str) -> bool:
    """Swap the step with its neighbour ("up" or "down"); False at the end of the list."""
    if direction not in ("up", "down"):
        raise ValidationFailed(fields={"direction": ['Say "up" or "down".']})
    with transaction.atomic():
        Plan.objects.select_for_update().filter(pk=step.plan_id).first()
        steps = list(PlanStep.objects.filter(plan_id=step.plan_id).order_by("position", "pk"))
        index = next((i for i, item in enumerate(steps) if item.pk == step.pk), None)
        if index is None:
            return False
        other_index = index - 1 if direction == "up" else index + 1
        if not 0 <= other_index < len(steps):
            return False
        mine, other = steps[index], steps[other_index]
        parked = (steps[-1].position or 0) + POSITION_GAP * 100
        # (plan, position) is unique and checked row by row: park one while the other moves.
        PlanStep.objects.filter(pk=mine.pk).update(position=parked)
        PlanStep.objects.filter(pk=other.pk).update(position=mine.position)
        PlanStep.objects.filter(pk=mine.pk).update(position=other.position)
    return True
