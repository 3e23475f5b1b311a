"""Follow-up tasks: what an agent must do for a lead by a time.

Reads start from the leads the user may see; writes are made by ``actor`` and
raise ``leads.errors`` types. The pipeline creates first-contact tasks; agents
add, complete and snooze them from the pages.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from leads.core.selectors import lead_get, visible_leads
from leads.core.validation import clean_text
from leads.errors import NotFound, ValidationFailed
from leads.models import FollowUpKind, FollowUpTask, Lead, User

SNOOZE_CHOICES = {"hour": "1 hour", "tomorrow": "Tomorrow 9:00"}
TOMORROW_AT = time(9, 0)
GROUP_LIMIT = 100


@dataclass(frozen=True)
class FollowUpGroups:
    overdue: list[FollowUpTask]
    today: list[FollowUpTask]
    upcoming: list[FollowUpTask]

    @property
    def is_empty(self) -> bool:
        return not (self.overdue or self.today or self.upcoming)


# --- reads -----------------------------------------------------------------


def visible_follow_ups(user: User) -> QuerySet[FollowUpTask]:
    """Tasks on the leads ``user`` may see."""
    return FollowUpTask.objects.filter(lead__in=visible_leads(user).values("pk"))


def open_follow_ups(*, user: User, everyone: bool = False) -> QuerySet[FollowUpTask]:
    """Open tasks for ``user`` (assigned to them, or unassigned on their leads).

    ``everyone``: every open task the user may see (a manager's team view).
    """
    tasks = visible_follow_ups(user).filter(completed_at__isnull=True)
    if not everyone:
        tasks = tasks.filter(Q(assigned_to=user) | Q(assigned_to__isnull=True, lead__assigned_to=user))
    return tasks.select_related("lead__contact", "assigned_to").order_by("due_at", "id")


def grouped_follow_ups(*, user: User, now: datetime, everyone: bool = False) -> FollowUpGroups:
    """Open tasks split into overdue, due later today and upcoming. Three queries."""
    tasks = open_follow_ups(user=user, everyone=everyone)
    end_of_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return FollowUpGroups(
        overdue=list(tasks.filter(due_at__lt=now)[:GROUP_LIMIT]),
        today=list(tasks.filter(due_at__gte=now, due_at__lt=end_of_today)[:GROUP_LIMIT]),
        upcoming=list(tasks.filter(due_at__gte=end_of_today)[:GROUP_LIMIT]),
    )


def lead_follow_ups(*, lead: Lead) -> list[FollowUpTask]:
    """A lead's tasks (the caller has checked it may see the lead): open ones
    first, by due time, then the last five done. Two queries."""
    tasks = FollowUpTask.objects.filter(lead=lead).select_related("assigned_to")
    open_tasks = list(tasks.filter(completed_at__isnull=True).order_by("due_at", "id")[:GROUP_LIMIT])
    done_tasks = list(tasks.filter(completed_at__isnull=False).order_by("-completed_at", "-id")[:5])
    return open_tasks + done_tasks


def snooze_target(choice: str, *, now: datetime) -> datetime:
    """When a task snoozed with ``choice`` ('hour' or 'tomorrow') falls due again."""
    if choice == "hour":
        return now + timedelta(hours=1)
    if choice == "tomorrow":
        tomorrow = timezone.localtime(now).date() + timedelta(days=1)
        return timezone.make_aware(datetime.combine(tomorrow, TOMORROW_AT))
    raise ValidationFailed(fields={"until": [f'"{choice[:40]}" is not valid. Use one of: hour, tomorrow.']})


# --- writes ----------------------------------------------------------------


@transaction.atomic
def follow_up_create(
    *, actor: User, lead_id: str, title: str, due_at: datetime | None, kind: str = FollowUpKind.FOLLOW_UP
) -> FollowUpTask:
    """Add a task to a lead the actor may see, for the lead's agent (else the actor)."""
    lead = lead_get(user=actor, lead_id=lead_id)
    title = clean_text(title or "")
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["This field may not be blank."]
    elif len(title) > 200:
        errors["title"] = ["Ensure this field has no more than 200 characters."]
    if due_at is None:
        errors["due_at"] = ["Enter a due date and time."]
    if kind not in FollowUpKind.values:
        errors["kind"] = [f'"{kind[:40]}" is not valid. Use one of: {", ".join(FollowUpKind.values)}.']
    if errors:
        raise ValidationFailed(fields=errors)
    return FollowUpTask.objects.create(
        lead=lead,
        assigned_to=lead.assigned_to or actor,
        kind=kind,
        title=title,
        due_at=due_at,
        created_by=actor,
    )


@transaction.atomic
def follow_up_complete(*, actor: User, task_id: int) -> FollowUpTask:
    """Mark the task done (doing it twice keeps the first completion time)."""
    task = _lock(actor, task_id)
    if task.completed_at is None:
        task.completed_at = timezone.now()
        task.save(update_fields=["completed_at"])
    return task


@transaction.atomic
def follow_up_snooze(*, actor: User, task_id: int, until: datetime) -> FollowUpTask:
    """Move an open task's due time to ``until`` (which must be in the future)."""
    task = _lock(actor, task_id)
    if task.completed_at is not None:
        raise ValidationFailed(fields={"until": ["This task is already done."]})
    if until <= timezone.now():
        raise ValidationFailed(fields={"until": ["Choose a time in the future."]})
    task.due_at = until
    task.save(update_fields=["due_at"])
    return task


def _lock(actor: User, task_id: int) -> FollowUpTask:
    try:
        return visible_follow_ups(actor).select_for_update(of=("self",)).get(pk=int(task_id))
    except (FollowUpTask.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound("Follow-up not found.") from None
