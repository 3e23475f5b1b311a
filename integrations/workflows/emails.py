"""The workflow emails, built from text + HTML templates in ``templates/emails/``.

Builders return an unsent ``EmailMultiAlternatives``; ``services`` decides whether
and when to send. Messages to a lead carry the signed unsubscribe link in the body
and in the List-Unsubscribe headers (one-click unsubscribe, RFC 8058).
"""

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from integrations.workflows.unsubscribe import unsubscribe_url
from leads.accounts import availability
from leads.models import FollowUpTask, Lead, User

DIGEST_TASK_LIMIT = 50


def welcome_message(lead: Lead) -> EmailMultiAlternatives:
    """To the lead: thanks, who their agent is, and how to stop these emails."""
    contact = lead.contact
    link = unsubscribe_url(lead=lead, channel="email")
    agent = lead.assigned_to
    return _message(
        template="welcome",
        subject="Thanks for reaching out: here's what happens next",
        to=[contact.email],
        reply_to=[agent.email] if agent and agent.email else None,
        context={"lead": lead, "contact": contact, "agent": agent, "unsubscribe_url": link},
        unsubscribe_link=link,
        zone=availability.team_zone(lead.team),
    )


def agent_alert_message(lead: Lead, *, due_at: datetime) -> EmailMultiAlternatives:
    """To the agent: a new urgent or high-urgency lead to contact by ``due_at``."""
    urgency = lead.timeline.get_urgency_level_display()
    zone = availability.user_zone(lead.assigned_to)
    return _message(
        template="agent_alert",
        subject=f"{urgency} lead: contact {lead.contact.full_name} by {due_at.astimezone(zone):%H:%M %Z}",
        to=[lead.assigned_to.email],
        zone=zone,
        context={
            "lead": lead,
            "contact": lead.contact,
            "due_at": due_at,
            "urgency": urgency,
            "lead_url": lead_page_url(lead),
        },
    )


def sla_escalation_message(lead: Lead, *, manager: User) -> EmailMultiAlternatives:
    """To the agent's manager: the first-contact deadline passed with no contact."""
    return _message(
        template="sla_escalation",
        subject=f"Missed first contact: {lead.contact.full_name} ({lead.assigned_to})",
        to=[manager.email],
        zone=availability.user_zone(manager),
        context={
            "lead": lead,
            "contact": lead.contact,
            "agent": lead.assigned_to,
            "manager": manager,
            "lead_url": lead_page_url(lead),
        },
    )


def overdue_digest_message(agent: User, *, tasks: Sequence[FollowUpTask], now: datetime) -> EmailMultiAlternatives:
    """To the agent: their overdue follow-ups, most overdue first (at most DIGEST_TASK_LIMIT listed)."""
    rows = [
        {"task": task, "lead": task.lead, "lead_url": lead_page_url(task.lead)} for task in tasks[:DIGEST_TASK_LIMIT]
    ]
    count = len(tasks)
    zone = availability.user_zone(agent)
    return _message(
        template="overdue_digest",
        subject=f"{count} overdue follow-up{'s' if count != 1 else ''} — {now.astimezone(zone):%a %d %b}",
        to=[agent.email],
        zone=zone,
        context={"agent": agent, "rows": rows, "count": count, "hidden": count - len(rows), "now": now},
    )


def lead_page_url(lead: Lead) -> str:
    """The absolute link to the lead's agent page ("" while the agent pages are not installed)."""
    try:
        return f"{settings.SITE_URL}{reverse('leads:lead_detail', args=[lead.public_id])}"
    except NoReverseMatch:
        return ""


def _message(
    *,
    template: str,
    subject: str,
    to: list[str],
    context: dict[str, Any],
    reply_to: list[str] | None = None,
    unsubscribe_link: str | None = None,
    zone: tzinfo,
) -> EmailMultiAlternatives:
    """The message, its times written in ``zone`` (the recipient's), with the zone named."""
    context = {**context, "site_url": settings.SITE_URL}
    headers = {}
    if unsubscribe_link:
        headers["List-Unsubscribe"] = f"<{unsubscribe_link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    with timezone.override(zone):
        text, html = (
            render_to_string(f"emails/{template}.txt", context),
            render_to_string(f"emails/{template}.html", context),
        )
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),  # names come from forms: never let a newline reach a header
        body=text,
        to=to,
        reply_to=reply_to,
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message
