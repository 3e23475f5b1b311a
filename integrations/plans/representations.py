"""Output: a lead's enrolment and the dry runs as the v2 API shows them, each declared
once as a shape (``leads.core.shapes``) beside the function that builds it."""

from rest_framework import serializers

from integrations.plans.models import Enrolment, EnrolmentState, StepKind
from integrations.plans.selectors import PlanForecast, Recipient, StepForecast
from leads.core.representations import iso
from leads.core.shapes import Shape, choice, datetime_field, renders


class EnrolmentShape(Shape):
    id = serializers.IntegerField()
    plan = serializers.DictField(help_text='{"id", "name"}')
    state = choice(EnrolmentState.choices)
    reason = serializers.CharField(allow_blank=True, help_text="Why it started.")
    state_reason = serializers.CharField(allow_blank=True, help_text="Why it was paused, stopped or finished.")
    started_by = serializers.CharField(allow_null=True, help_text="Username, or null when a trigger started it.")
    started_at = datetime_field()
    ended_at = datetime_field(allow_null=True)
    next_due_at = datetime_field(allow_null=True)
    steps_done = serializers.IntegerField(min_value=0)


@renders(EnrolmentShape)
def enrolment_data(enrolment: Enrolment) -> dict:
    return {
        "id": enrolment.pk,
        "plan": {"id": enrolment.plan_id, "name": enrolment.plan.name},
        "state": enrolment.state,
        "reason": enrolment.reason,
        "state_reason": enrolment.state_reason,
        "started_by": enrolment.started_by.get_username() if enrolment.started_by_id else None,
        "started_at": iso(enrolment.started_at),
        "ended_at": iso(enrolment.ended_at),
        "next_due_at": iso(enrolment.next_due_at),
        "steps_done": enrolment.steps_done if hasattr(enrolment, "steps_done") else enrolment.runs.count(),
    }


class StepForecastShape(Shape):
    position = serializers.IntegerField(min_value=0)
    kind = choice(StepKind.choices)
    due_at = serializers.CharField(help_text="ISO 8601 in the lead's zone (with its offset).")
    will_send = serializers.BooleanField(help_text="A message that will go (possibly after a wait).")
    verdict = serializers.CharField(
        help_text='"will send", "will run", "skipped: …", "paused: …"; waits say until when.'
    )
    preview = serializers.CharField(allow_blank=True, help_text="The message as the lead would get it.")


@renders(StepForecastShape)
def step_forecast_data(step: StepForecast) -> dict:
    return {
        "position": step.position,
        "kind": step.kind,
        "due_at": step.due_at.isoformat(),
        "will_send": step.will_send,
        "verdict": step.verdict,
        "preview": step.preview,
    }


class PlanForecastShape(Shape):
    plan = serializers.DictField(help_text='{"id", "name"}')
    state = serializers.CharField(help_text='The enrolment\'s state, or "would start".')
    reason = serializers.CharField(allow_blank=True)
    steps = StepForecastShape(many=True)


@renders(PlanForecastShape)
def plan_forecast_data(forecast: PlanForecast) -> dict:
    return {
        "plan": {"id": forecast.plan.pk, "name": forecast.plan.name},
        "state": forecast.state,
        "reason": forecast.reason,
        "steps": [step_forecast_data(step) for step in forecast.steps],
    }


class RecipientShape(Shape):
    lead_id = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    first_message = StepForecastShape(allow_null=True)


@renders(RecipientShape)
def recipient_data(recipient: Recipient) -> dict:
    return {
        "lead_id": recipient.lead.public_id,
        "name": recipient.lead.contact.full_name,
        "first_message": step_forecast_data(recipient.first_message) if recipient.first_message else None,
    }
