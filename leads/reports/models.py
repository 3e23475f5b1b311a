"""Who asked not to get the weekly report email (managers get it unless they opt out)."""

from django.db import models

from leads.accounts.models import User


class WeeklyReportOptOut(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="weekly_report_opt_out")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"No weekly report for {self.user}"
