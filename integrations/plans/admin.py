"""Back office: plans and their steps (templates checked at save), enrolments to stop
or resume, and read-only step runs and consents (written by the services)."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from integrations.plans import services, templating
from integrations.plans.models import Consent, Enrolment, EnrolmentState, Plan, PlanStep, StepRun
from leads.admin.read_only import ReadOnlyAdminMixin


class PlanStepForm(forms.ModelForm):
    class Meta:
        model = PlanStep
        fields = (
            "position",
            "kind",
            "subject",
            "body",
            "task_channel",
            "wait_minutes",
            "wait_until_weekday",
            "wait_until_time",
            "status",
            "tag",
        )

    def clean(self):
        cleaned = super().clean()
        step = PlanStep(**{name: cleaned.get(name) for name in self._meta.fields if name in cleaned})
        for name, errors in services.step_check(step).items():
            for error in errors:
                self.add_error(name if name in self.fields else None, error)
        return cleaned


class PlanStepInline(admin.StackedInline):
    model = PlanStep
    form = PlanStepForm
    extra = 0
    ordering = ("position",)
    fields = (
        ("position", "kind"),
        "subject",
        "body",
        "task_channel",
        ("wait_minutes", "wait_until_weekday", "wait_until_time"),
        ("status", "tag"),
    )


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "is_active", "trigger", "pause_on_reply", "pause_on_status", "updated_at")
    list_filter = ("is_active", "trigger", "team")
    search_fields = ("name",)
    inlines = [PlanStepInline]
    readonly_fields = ("created_by", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "team", "is_active")}),
        (
            "Trigger",
            {
                "fields": (
                    "trigger",
                    "trigger_sources",
                    "trigger_lead_types",
                    "trigger_tags",
                    "trigger_status",
                    ("trigger_days", "trigger_date_field"),
                    ("trigger_web_kind", "trigger_count", "trigger_window_hours", "trigger_same_listing"),
                ),
                "description": "Merge fields for templates: "
                + ", ".join(f"{{{{ {name} }}}}" for name in templating.MERGE_FIELDS),
            },
        ),
        ("When the lead answers", {"fields": ("pause_on_reply", "pause_on_status")}),
        (None, {"fields": ("created_by", "created_at", "updated_at")}),
    )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    can_delete = False
    fields = ("position", "kind", "status", "reason", "channel", "recipient", "subject", "created_at", "finished_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ("lead", "plan", "state", "next_due_at", "state_reason", "started_at")
    list_filter = ("state", "plan")
    search_fields = ("lead__public_id", "lead__contact__email", "plan__name")
    list_select_related = ("lead__contact", "plan")
    raw_id_fields = ("lead",)
    readonly_fields = (
        "lead",
        "plan",
        "state",
        "next_position",
        "next_due_at",
        "claimed_until",
        "started_by",
        "reason",
        "state_reason",
        "started_at",
        "ended_at",
    )
    inlines = [StepRunInline]
    actions = ["stop_enrolments", "resume_enrolments"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Stop the selected plans for their leads")
    def stop_enrolments(self, request, queryset):
        count = 0
        for enrolment in queryset.filter(state__in=[EnrolmentState.ACTIVE, EnrolmentState.PAUSED]).select_related(
            "lead"
        ):
            services.stop(lead=enrolment.lead, plan_id=enrolment.plan_id, by=request.user)
            count += 1
        self.message_user(request, f"Stopped {count}.", messages.SUCCESS)

    @admin.action(description="Resume the selected paused plans")
    def resume_enrolments(self, request, queryset):
        count = 0
        for enrolment in queryset.filter(state=EnrolmentState.PAUSED):
            services.resume(enrolment=enrolment)
            count += 1
        self.message_user(request, f"Resumed {count}.", messages.SUCCESS)


@admin.register(StepRun)
class StepRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "enrolment", "position", "kind", "status", "channel", "recipient", "reason")
    list_filter = ("status", "kind", "channel")
    search_fields = ("recipient", "enrolment__lead__public_id")
    list_select_related = ("enrolment__plan", "enrolment__lead__contact")


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    """Consent the back office records (a call, a signed form); STOP/START replies write here too."""

    list_display = ("lead", "channel", "granted", "source", "at", "recorded_by")
    list_filter = ("channel", "granted")
    search_fields = ("lead__public_id", "source")
    list_select_related = ("lead__contact", "recorded_by")
    raw_id_fields = ("lead",)
    readonly_fields = ("recorded_by",)

    def save_model(self, request, obj, form, change):
        obj.recorded_by = request.user
        super().save_model(request, obj, form, change)
