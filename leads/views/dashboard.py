"""The dashboard: today's work and the pipeline at a glance."""

from django.shortcuts import render
from django.utils import timezone

from leadmgmt.replica import reads_from_replica
from leads import ports
from leads.accounts import permissions
from leads.core.followups import grouped_follow_ups
from leads.reporting import counts, reports
from leads.views.common import agent_page


@agent_page
@reads_from_replica
def dashboard(request):
    user, now = request.user, timezone.now()
    follow_ups = grouped_follow_ups(user=user, now=now, everyone=permissions.can_view_team_leads(user))
    status_totals = counts.by_status(user)
    context = {
        "headline": reports.headline(user=user, now=now, status_totals=status_totals),
        "waiting": reports.waiting_for_first_contact(user=user),
        "due_today": (follow_ups.overdue + follow_ups.today)[:8],
        "agent_rows": reports.agent_table(user=user, now=now),
        "charts": {
            "funnel": reports.status_funnel(user=user, status_totals=status_totals),
            "sources": reports.new_leads_by_source(user=user, now=now),
            "scores": reports.score_distribution(user=user, now=now),
            "speed": reports.speed_to_lead_by_week(user=user, now=now),
        },
        "sla_days": reports.SLA_DAYS,
        # Managers are told when background work (SLA checks, retries, rescoring) stops.
        "failing_jobs": ports.manager_notices("failing_jobs") if permissions.can_see_job_health(user) else [],
        "now": now,
    }
    return render(request, "dashboard/index.html", context)
