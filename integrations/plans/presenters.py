"""Plain words for the plans pages: a step in one line, a trigger in one line, a
forecast's verdict as a tone (for its badge)."""

from integrations.plans.models import Plan, PlanStep, StepKind, TriggerKind, Weekday
from leads.models import LeadSource, LeadStatus, LeadType


def _duration(minutes: int) -> str:
    for size, unit in ((60 * 24, "day"), (60, "hour")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def step_summary(step: PlanStep) -> str:
    """What the step does, in one line: "Wait 2 days", "Send an email: Hi {{ first_name }}"."""
    kind = step.kind
    if kind == StepKind.SEND_EMAIL:
        return f"Email: {step.subject}"
    if kind == StepKind.SEND_TEXT:
        text = " ".join(step.body.split())
        return f"Text: {text[:80]}{'…' if len(text) > 80 else ''}"
    if kind == StepKind.CREATE_TASK:
        what = step.get_task_channel_display() if step.task_channel else "Follow-up"
        return f"{what} task for the agent" + (f": {step.subject}" if step.subject else "")
    if kind == StepKind.WAIT:
        if step.wait_until_weekday is not None or step.wait_until_time is not None:
            day = Weekday(step.wait_until_weekday).label if step.wait_until_weekday is not None else "the next day"
            at = step.wait_until_time.strftime("%H:%M") if step.wait_until_time else "9:00"
            return f"Wait until {day} at {at} (the lead's time)"
        return f"Wait {_duration(step.wait_minutes or 0)}"
    if kind == StepKind.CHANGE_STATUS:
        return f"Set the status to {LeadStatus(step.status).label if step.status in LeadStatus.values else step.status}"
    if kind == StepKind.ADD_TAG:
        return f"Add the tag “{step.tag}”"
    if kind == StepKind.REMOVE_TAG:
        return f"Remove the tag “{step.tag}”"
    if kind == StepKind.NOTIFY_MANAGER:
        return "Notify the agent's manager" + (f": {step.subject}" if step.subject else "")
    return step.get_kind_display()


def trigger_summary(plan: Plan) -> str:
    """When the plan starts, in one line."""
    trigger = plan.trigger
    if trigger == TriggerKind.MANUAL:
        return "Started by hand only"
    if trigger == TriggerKind.NEW_LEAD:
        parts = []
        if plan.trigger_sources:
            parts.append("from " + ", ".join(_label(LeadSource, value) for value in plan.trigger_sources))
        if plan.trigger_lead_types:
            parts.append("of type " + ", ".join(_label(LeadType, value) for value in plan.trigger_lead_types))
        if plan.trigger_tags:
            parts.append("tagged " + ", ".join(plan.trigger_tags))
        return "A new lead" + (" " + "; ".join(parts) if parts else " (any)")
    if trigger == TriggerKind.STATUS_CHANGED:
        return f"The status changes to {_label(LeadStatus, plan.trigger_status)}"
    if trigger == TriggerKind.TAG_ADDED:
        return "A tag is added: " + ", ".join(plan.trigger_tags)
    if trigger == TriggerKind.NO_CONTACT:
        return f"No contact for {plan.trigger_days} days"
    if trigger == TriggerKind.DATE_FIELD:
        return f"{plan.trigger_days} days before the {plan.get_trigger_date_field_display().lower()}"
    if trigger == TriggerKind.WEB_ACTIVITY:
        return web_activity_label(plan)
    return plan.get_trigger_display()


def web_activity_label(plan) -> str:
    """ "Viewed a listing 3 times (the same listing) within 168 hours"."""
    what = plan.get_trigger_web_kind_display() if plan.trigger_web_kind else "Website activity"
    same = " (the same listing)" if plan.trigger_same_listing else ""
    times = f"{plan.trigger_count} time{'s' if plan.trigger_count != 1 else ''}"
    return f"{what} {times}{same} within {plan.trigger_window_hours} hours"


def _label(choices, value: str) -> str:
    return choices(value).label if value in choices.values else value


def verdict_tone(verdict: str) -> str:
    """ "ok", "wait", "skip" or "run" for a forecast's verdict."""
    if verdict.startswith("will send"):
        return "wait" if "waits:" in verdict else "ok"
    if verdict.startswith(("skipped", "paused")):
        return "skip"
    return "run"
