"""Plans tests: factories for plans and steps, a loopback SMTP server (aiosmtpd) and a
loopback Twilio-compatible SMS provider (the SMS package's), and helpers that run the
scheduler and the after-commit work as a worker would."""

from datetime import datetime
from email import message_from_bytes, policy

import factory
import pytest
from django.utils import timezone

from integrations.plans import delivery, scheduler
from integrations.plans.models import Plan, PlanStep, StepKind
from integrations.sms.tests.conftest import provider  # noqa: F401  (a fixture)
from integrations.workflows.tests.test_smtp_delivery import smtp_inbox  # noqa: F401  (a fixture)
from leads.tests.factories import LeadFactory, UserFactory
from leads.tests.lead_events import relay_recorded_events


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    name = factory.Sequence(lambda n: f"Plan {n}")
    is_active = True


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanStep

    plan = factory.SubFactory(PlanFactory)
    position = factory.Sequence(lambda n: (n + 1) * 10)
    kind = StepKind.SEND_EMAIL
    subject = "Hi {{ first_name }}"
    body = "Hello {{ first_name }}, this is {{ agent_name }}."


def plan_with(*steps: dict, **plan_fields) -> Plan:
    """A plan whose steps are ``steps`` (PlanStep fields), positions 10, 20, ..."""
    plan = PlanFactory(**plan_fields)
    for index, fields in enumerate(steps, start=1):
        StepFactory(plan=plan, position=index * 10, **fields)
    return plan


def run_steps(django_capture_on_commit_callbacks, now: datetime | None = None) -> int:
    """One pass of the periodic job at ``now``, its after-commit deliveries run as a worker would."""
    with django_capture_on_commit_callbacks(execute=True):
        return scheduler.run_due(now or timezone.now())


def record_without_sending(now: datetime | None = None) -> int:
    """The scheduler's claim and steps, as a worker that dies before sending anything
    (the messages are recorded; their after-commit sending never runs)."""
    ids, lease = scheduler.claim_due(now)
    return sum(scheduler.run_enrolment(enrolment_id, lease, now) for enrolment_id in ids)


def deliver_due(now: datetime | None = None) -> list[str]:
    """Attempt every message whose attempt is due (the sweep, run in-process)."""
    return [delivery.deliver(run_id).value for run_id in delivery.due(now).values_list("pk", flat=True)]


def relay(django_capture_on_commit_callbacks) -> None:
    """Hand the recorded lead events to the subscribers, their after-commit work run."""
    with django_capture_on_commit_callbacks(execute=True):
        relay_recorded_events()


def received(inbox) -> list:
    return [message_from_bytes(envelope.original_content, policy=policy.default) for envelope in inbox.envelopes]


@pytest.fixture
def agent_with_manager(db):
    manager = UserFactory(username="manager_plans", role="manager", email="boss@agents.example.com")
    return UserFactory(username="agent_plans", first_name="Alice", last_name="Nguyen", manager=manager)


@pytest.fixture
def lead(agent_with_manager):
    return LeadFactory(
        assigned_to=agent_with_manager, contact__first_name="Katherine", contact__email="kat@example.com"
    )
