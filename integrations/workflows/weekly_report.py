"""The weekly report email to each manager (issue 15): last week's figures beside the
week before's (``leads.reports.weekly``), once per manager and week, through the
workflows' email path (``services._send_once``: claimed by key, so a re-run or a
second worker never sends it twice). Managers who opted out (the Reports page's
"Weekly email" switch, linked from every such email) get nothing. A periodic job
(``integrations.periodic``) runs it hourly; it sends once a week has ended."""

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import timezone

from integrations.workflows import emails
from integrations.workflows.models import WorkflowEventKind
from integrations.workflows.services import _send_once
from leads.accounts import availability
from leads.reports.weekly import WeeklyReport, last_week, recipients, weekly_report


def send_weekly_reports(now: datetime | None = None) -> int:
    """Email each manager who wants it last week's report, once per week; returns how
    many were sent."""
    now = now or timezone.now()
    sent = 0
    for manager in recipients():
        week_start = last_week(manager, now)
        sent += _send_once(
            key=f"weekly-report:{manager.pk}:{week_start.isoformat()}",
            kind=WorkflowEventKind.WEEKLY_REPORT,
            lead=None,
            build=lambda manager=manager, week_start=week_start: weekly_report_message(
                weekly_report(manager, week_start=week_start)
            ),
        )
    return sent


def weekly_report_message(report: WeeklyReport) -> EmailMultiAlternatives:
    settings_url = f"{settings.SITE_URL}{reverse('reports:email_settings')}"
    return emails._message(
        template="weekly_report",
        subject=f"Your team's week: {report.week_start:%b %-d} to {report.week_end:%b %-d}",
        to=[report.manager.email],
        zone=availability.user_zone(report.manager),
        context={
            "report": report,
            "manager": report.manager,
            "reports_url": f"{settings.SITE_URL}{reverse('reports:sources')}",
            "settings_url": settings_url,
        },
        unsubscribe_link=settings_url,
    )
