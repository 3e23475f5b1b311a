"""The weekly report a manager is emailed: last week's figures (Monday to Sunday in
the manager's time zone) beside the week before's, from the same reports as the
pages. Sent by ``integrations.workflows.weekly_report`` through the email path."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet

from leads.accounts import availability
from leads.models import Role, User
from leads.reports.filters import ReportFilters
from leads.reports.leaderboard import leaderboard_report
from leads.reports.models import WeeklyReportOptOut
from leads.reports.roi import roi_report

TOP_AGENTS = 5


@dataclass(frozen=True)
class Figure:
    label: str
    value: Decimal | int | None
    previous: Decimal | int | None
    kind: str = "int"  # int or money

    @property
    def change(self) -> Decimal | int | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change_percent(self) -> float | None:
        if self.change is None or not self.previous:
            return None
        return round(100 * float(self.change) / float(self.previous), 1)


@dataclass(frozen=True)
class WeeklyReport:
    manager: User
    week_start: date
    week_end: date
    figures: list[Figure]
    agents: list[dict]


def recipients() -> QuerySet[User]:
    """Active managers and admins with an email who did not opt out."""
    return (
        User.objects.filter(is_active=True, role__in=[Role.MANAGER, Role.ADMIN])
        .exclude(email="")
        .exclude(pk__in=WeeklyReportOptOut.objects.values("user_id"))
        .order_by("pk")
    )


def wants_weekly_email(user: User) -> bool:
    return not WeeklyReportOptOut.objects.filter(user=user).exists()


def set_weekly_email(*, user: User, wanted: bool) -> None:
    """Opt the user in (the default) or out of the weekly report email."""
    if wanted:
        WeeklyReportOptOut.objects.filter(user=user).delete()
    else:
        WeeklyReportOptOut.objects.get_or_create(user=user)


def last_week(user: User, now: datetime) -> date:
    """The Monday of the last full week in the user's zone."""
    today = now.astimezone(availability.user_zone(user)).date()
    return today - timedelta(days=today.weekday() + 7)


def weekly_report(manager: User, *, week_start: date) -> WeeklyReport:
    zone = availability.user_zone(manager)
    this = ReportFilters(user=manager, start=week_start, end=week_start + timedelta(days=6), zone=zone)
    before = ReportFilters(
        user=manager, start=week_start - timedelta(days=7), end=week_start - timedelta(days=1), zone=zone
    )
    now_roi, then_roi = _totals(roi_report(this)), _totals(roi_report(before))
    figures = [
        Figure("New leads", now_roi["leads"], then_roi["leads"]),
        Figure("Contacted", now_roi["contacted"], then_roi["contacted"]),
        Figure("Closed deals", now_roi["closed"], then_roi["closed"]),
        Figure("Commission", now_roi["commission"], then_roi["commission"], "money"),
        Figure("Spend", now_roi["spend"], then_roi["spend"], "money"),
    ]
    board = leaderboard_report(this)
    agents = [row for row in board.rows if row["new_leads"] or row["conversions"]][:TOP_AGENTS]
    return WeeklyReport(manager, this.start, this.end, figures, agents)


def _totals(report) -> dict:
    rows = report.rows
    spends = [row["spend"] for row in rows if row["spend"] is not None]
    return {
        "leads": sum(row["leads"] for row in rows),
        "contacted": sum(row["contacted"] for row in rows),
        "closed": sum(row["closed"] for row in rows),
        "commission": sum((row["commission"] for row in rows), Decimal("0")),
        "spend": sum(spends, Decimal("0")) if spends or report.filters.is_manager else None,
    }
