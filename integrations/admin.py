"""Back office view of the periodic jobs: how each one last ran, read-only. The rows
are written by the runner (``integrations.periodic.run``) after every run."""

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import Truncator

from integrations import periodic
from integrations.models import PeriodicJobState
from leads.accounts import permissions
from leads.admin.read_only import ReadOnlyAdminMixin


@admin.register(PeriodicJobState)
class PeriodicJobStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "health",
        "every",
        "consecutive_failures",
        "last_started_at",
        "last_succeeded_at",
        "last_failed_at",
        "short_last_error",
    )
    list_filter = ("consecutive_failures",)
    ordering = ("-consecutive_failures", "name")
    fields = (
        "name",
        "consecutive_failures",
        "last_started_at",
        "last_finished_at",
        "last_succeeded_at",
        "last_result",
        "last_failed_at",
        "last_error",
    )
    readonly_fields = fields

    # Managers and admins read it, like the dashboard's warning; nobody edits it.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.can_see_job_health(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: PeriodicJobState | None = None) -> bool:
        return permissions.can_see_job_health(request.user) or super().has_view_permission(request, obj)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        never_run = periodic.never_run_jobs()
        if never_run:
            self.message_user(
                request, f"Registered but never run: {', '.join(never_run)}. Is beat running?", messages.WARNING
            )
        return super().changelist_view(request, extra_context)

    @admin.display(description="Health")
    def health(self, state: PeriodicJobState) -> str:
        return periodic.job_health(state, now=timezone.now())

    @admin.display(description="Runs every")
    def every(self, state: PeriodicJobState) -> str:
        job = periodic.JOBS.get(state.name)
        return str(job.every) if job else "no longer registered"

    @admin.display(description="Last error")
    def short_last_error(self, state: PeriodicJobState) -> str:
        return Truncator(state.last_error).chars(120)
