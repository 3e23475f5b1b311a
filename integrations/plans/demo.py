"""The demo's plans (``manage.py seed_plans_demo``, run by ``seed_demo``): a new web
lead's first week, a nurture drip, and "hot on a listing" (website activity: the same
listing viewed 3 times in a week; ``seed_webevents_demo`` makes a demo lead do it). The
demo leads that fit the first two are enrolled and their first steps run, so ``make run``
shows plans at work (emails in ``sent_emails/``)."""

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from integrations.plans import scheduler, services
from integrations.plans.models import Enrolment, Plan, StepKind, TriggerKind
from leads.models import ContactChannel, Lead, LeadSource, LeadStatus

NEW_WEB_LEAD = "New web lead"
NURTURE = "Nurture"
HOT_ON_A_LISTING = "Hot on a listing"
DAY = 24 * 60

PLANS = {
    NEW_WEB_LEAD: {
        "fields": {"trigger": TriggerKind.NEW_LEAD, "trigger_sources": [LeadSource.WEBSITE]},
        "steps": [
            {
                "kind": StepKind.SEND_EMAIL,
                "subject": "{{ first_name|default:'Hi' }}, homes that fit what you asked for",
                "body": (
                    "Hi {{ first_name }},\n\nI'm {{ agent_name }}, and I'll help you find your next home."
                    "{% if listing_summary %}\n\nOne that fits: {{ listing_summary }}."
                    "{% if listing_url %} {{ listing_url }}{% endif %}{% endif %}\n\n"
                    "Reply to this email or call me at {{ agent_phone }}.\n\n{{ agent_name }}"
                ),
            },
            {"kind": StepKind.WAIT, "wait_minutes": DAY},
            {
                "kind": StepKind.SEND_TEXT,
                "body": "Hi {{ first_name }}, {{ agent_first_name }} here. Good time to talk?",
            },
            {"kind": StepKind.CREATE_TASK, "task_channel": "call", "subject": "Call {{ full_name }} (day 2)"},
            {"kind": StepKind.WAIT, "wait_minutes": 3 * DAY},
            {
                "kind": StepKind.SEND_EMAIL,
                "subject": "Still looking, {{ first_name }}?",
                "body": "Hi {{ first_name }},\n\nShall I send you new listings as they come?\n\n{{ agent_name }}",
            },
            {"kind": StepKind.NOTIFY_MANAGER, "subject": "{{ full_name }} finished the new web lead plan"},
        ],
    },
    NURTURE: {
        "fields": {"trigger": TriggerKind.STATUS_CHANGED, "trigger_status": LeadStatus.NURTURE},
        "steps": [
            {
                "kind": StepKind.SEND_EMAIL,
                "subject": "The market this month, {{ first_name }}",
                "body": "Hi {{ first_name }},\n\nWhat sold near you, in short. Questions?\n\n{{ agent_name }}",
            },
            {"kind": StepKind.WAIT, "wait_minutes": 30 * DAY},
            {
                "kind": StepKind.SEND_EMAIL,
                "subject": "Thinking of moving this year?",
                "body": "Hi {{ first_name }},\n\nHappy to help whenever you're ready.\n\n{{ agent_name }}",
            },
            {"kind": StepKind.WAIT, "wait_minutes": 30 * DAY},
            {"kind": StepKind.CREATE_TASK, "task_channel": "call", "subject": "Check in with {{ full_name }}"},
        ],
    },
    HOT_ON_A_LISTING: {
        "fields": {
            "trigger": TriggerKind.WEB_ACTIVITY,
            "trigger_web_kind": "listing_viewed",
            "trigger_count": 3,
            "trigger_window_hours": 7 * 24,
            "trigger_same_listing": True,
        },
        "steps": [
            {
                "kind": StepKind.CREATE_TASK,
                "task_channel": "call",
                "subject": "Call {{ full_name }}: viewed the same listing 3 times this week",
            },
        ],
    },
}


def seed(*, demo_email_domain: str) -> dict[str, int]:
    """Make the two plans (once), enrol the demo leads that fit, run what is due; returns
    how many leads each plan got now."""
    plans = {}
    with transaction.atomic():
        for name, spec in PLANS.items():
            plan, created = Plan.objects.get_or_create(name=name, defaults={"is_active": True, **spec["fields"]})
            if created:
                for index, step in enumerate(spec["steps"], start=1):
                    plan.steps.create(position=index * 10, **step)
            plans[name] = plan
    demo = Lead.objects.filter(contact__email__endswith=demo_email_domain, archived_at__isnull=True)
    fits = {
        NEW_WEB_LEAD: demo.filter(source=LeadSource.WEBSITE, status=LeadStatus.NEW),
        NURTURE: demo.filter(status=LeadStatus.NURTURE),
    }
    counts = {}
    for name, leads in fits.items():
        plan = plans[name]
        leads = leads.exclude(Exists(Enrolment.objects.filter(plan=plan, lead=OuterRef("pk")))).select_related(
            "contact"
        )
        counts[name] = 0
        for lead in leads:
            if lead.contact.preferred_contact_method == ContactChannel.TEXT:
                services.set_consent(lead=lead, channel="text", granted=True, source="demo: web form opt-in")
            services.enrol(lead=lead, plan=plan, reason=f"Demo: {plan.get_trigger_display()}")
            counts[name] += 1
    scheduler.run_due(timezone.now())
    return counts
