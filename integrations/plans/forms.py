"""Forms of the plans pages: they turn posted text into a plan's or a step's fields and
show the errors ``editing`` finds (templates, what a trigger or a step needs) by field."""

from django import forms

from integrations.plans import editing, services
from integrations.plans.models import DateField, Plan, PlanStep, StepKind, TaskChannel, TriggerKind, Weekday
from leads.models import LeadSource, LeadStatus, LeadType, WebEventKind

MAX_TAGS = 20
WAIT_UNITS = {"minutes": 1, "hours": 60, "days": 60 * 24}
MAX_WAIT_MINUTES = 365 * 24 * 60


def _tags(value: str) -> list[str]:
    tags = []
    for raw in (value or "").split(","):
        tag = " ".join(raw.split())
        if tag and tag not in tags:
            tags.append(tag)
    return tags


class DomainErrorsMixin:
    """Errors from the services on their fields, and each field with an error marked for
    screen readers (``aria-invalid``, described by its message: ``<auto_id>_error``)."""

    def full_clean(self) -> None:
        super().full_clean()
        self.mark_invalid()

    def add_domain_errors(self, fields: dict, message: str = "") -> None:
        for name, errors in (fields or {}).items():
            for error in errors:
                self.add_error(name if name in self.fields else None, error)
        if not fields and message:
            self.add_error(None, message)
        self.mark_invalid()

    def mark_invalid(self) -> None:
        for name in self.errors:
            if name not in self.fields:
                continue
            attrs = self.fields[name].widget.attrs
            error_id = f"{self[name].auto_id}_error"
            described = attrs.get("aria-describedby", "").split()
            attrs["aria-invalid"] = "true"
            attrs["aria-describedby"] = " ".join([*described, error_id] if error_id not in described else described)


class PlanForm(DomainErrorsMixin, forms.Form):
    name = forms.CharField(max_length=120)
    trigger = forms.ChoiceField(label="Starts when", choices=TriggerKind.choices)
    trigger_sources = forms.MultipleChoiceField(
        label="Sources (none ticked: any)",
        choices=LeadSource.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    trigger_lead_types = forms.MultipleChoiceField(
        label="Lead types (none ticked: any)",
        choices=LeadType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    trigger_tags = forms.CharField(
        label="Tags", required=False, max_length=500, help_text="Comma-separated, e.g. open-house, relocation"
    )
    trigger_status = forms.ChoiceField(
        label="Status", choices=[("", "Choose a status"), *LeadStatus.choices], required=False
    )
    trigger_days = forms.IntegerField(label="Days", min_value=0, max_value=3650, required=False)
    trigger_date_field = forms.ChoiceField(
        label="Date", choices=[("", "Choose a date"), *DateField.choices], required=False
    )
    trigger_web_kind = forms.ChoiceField(
        label="Website activity", choices=[("", "Choose an activity"), *WebEventKind.choices], required=False
    )
    trigger_count = forms.IntegerField(label="How many times", min_value=1, max_value=1000, required=False)
    trigger_window_hours = forms.IntegerField(label="Within hours", min_value=1, max_value=24 * 365, required=False)
    trigger_same_listing = forms.BooleanField(label="All of the same listing", required=False)
    pause_on_reply = forms.BooleanField(
        label="Pause when the lead replies by text or email, or a call connects", required=False
    )
    pause_on_status = forms.BooleanField(label="Pause when someone moves the lead past contacted", required=False)
    is_active = forms.BooleanField(label="Active: its trigger starts it for new leads", required=False)

    def __init__(self, *args, plan: Plan | None = None, **kwargs):
        if plan is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": plan.name,
                "trigger": plan.trigger,
                "trigger_sources": plan.trigger_sources,
                "trigger_lead_types": plan.trigger_lead_types,
                "trigger_tags": ", ".join(plan.trigger_tags or []),
                "trigger_status": plan.trigger_status,
                "trigger_days": plan.trigger_days,
                "trigger_date_field": plan.trigger_date_field,
                "trigger_web_kind": plan.trigger_web_kind,
                "trigger_count": plan.trigger_count,
                "trigger_window_hours": plan.trigger_window_hours,
                "trigger_same_listing": plan.trigger_same_listing,
                "pause_on_reply": plan.pause_on_reply,
                "pause_on_status": plan.pause_on_status,
                "is_active": plan.is_active,
            }
        super().__init__(*args, **kwargs)
        for name in ("trigger_tags", "trigger_days"):
            self.fields[name].widget.attrs["aria-describedby"] = f"id_{name}_helptext"

    def clean_trigger_tags(self) -> list[str]:
        tags = _tags(self.cleaned_data.get("trigger_tags", ""))
        if len(tags) > MAX_TAGS:
            raise forms.ValidationError(f"At most {MAX_TAGS} tags.")
        if any(len(tag) > 50 for tag in tags):
            raise forms.ValidationError("A tag is at most 50 characters.")
        return tags

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            for name, errors in editing.plan_check(self.apply_to(Plan())).items():
                for error in errors:
                    self.add_error(name, error)
        return cleaned

    def apply_to(self, plan: Plan) -> Plan:
        data = self.cleaned_data
        plan.name = data.get("name") or ""
        plan.trigger = data.get("trigger") or TriggerKind.MANUAL
        keep = plan.trigger
        plan.trigger_sources = list(data.get("trigger_sources") or []) if keep == TriggerKind.NEW_LEAD else []
        plan.trigger_lead_types = list(data.get("trigger_lead_types") or []) if keep == TriggerKind.NEW_LEAD else []
        uses_tags = keep in (TriggerKind.NEW_LEAD, TriggerKind.TAG_ADDED)
        plan.trigger_tags = list(data.get("trigger_tags") or []) if uses_tags else []
        plan.trigger_status = (data.get("trigger_status") or "") if keep == TriggerKind.STATUS_CHANGED else ""
        uses_days = keep in (TriggerKind.NO_CONTACT, TriggerKind.DATE_FIELD)
        plan.trigger_days = data.get("trigger_days") if uses_days else None
        plan.trigger_date_field = (data.get("trigger_date_field") or "") if keep == TriggerKind.DATE_FIELD else ""
        web = keep == TriggerKind.WEB_ACTIVITY
        plan.trigger_web_kind = (data.get("trigger_web_kind") or "") if web else ""
        plan.trigger_count = data.get("trigger_count") if web else None
        plan.trigger_window_hours = data.get("trigger_window_hours") if web else None
        plan.trigger_same_listing = bool(data.get("trigger_same_listing")) if web else False
        plan.pause_on_reply = bool(data.get("pause_on_reply"))
        plan.pause_on_status = bool(data.get("pause_on_status"))
        plan.is_active = bool(data.get("is_active"))
        return plan


class StepForm(DomainErrorsMixin, forms.Form):
    kind = forms.ChoiceField(label="What this step does", choices=StepKind.choices)
    subject = forms.CharField(label="Subject (email) or title (task, manager's note)", max_length=200, required=False)
    body = forms.CharField(
        label="Message template",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Merge fields such as {{ first_name }} and {{ agent_name }}; see the list.",
    )
    task_channel = forms.ChoiceField(label="Task", choices=[("", "Follow up"), *TaskChannel.choices], required=False)
    wait_amount = forms.IntegerField(label="Wait for", min_value=1, max_value=100_000, required=False)
    wait_unit = forms.ChoiceField(
        label="Unit", choices=[(unit, unit.capitalize()) for unit in WAIT_UNITS], required=False
    )
    wait_until_weekday = forms.TypedChoiceField(
        label="Or until (weekday)",
        choices=[("", "Any day"), *Weekday.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    wait_until_time = forms.TimeField(
        label="At (the lead's time)", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    status = forms.ChoiceField(
        label="New status", choices=[("", "Choose a status"), *LeadStatus.choices], required=False
    )
    tag = forms.CharField(label="Tag", max_length=50, required=False)

    def __init__(self, *args, step: PlanStep | None = None, **kwargs):
        if step is not None and "initial" not in kwargs:
            amount, unit = _split_minutes(step.wait_minutes)
            kwargs["initial"] = {
                "kind": step.kind,
                "subject": step.subject,
                "body": step.body,
                "task_channel": step.task_channel,
                "wait_amount": amount,
                "wait_unit": unit,
                "wait_until_weekday": step.wait_until_weekday,
                "wait_until_time": step.wait_until_time,
                "status": step.status,
                "tag": step.tag,
            }
        super().__init__(*args, **kwargs)
        self.fields["body"].widget.attrs["aria-describedby"] = f"{self.auto_id % 'body'}_helptext"

    def clean(self):
        cleaned = super().clean()
        amount, unit = cleaned.get("wait_amount"), cleaned.get("wait_unit") or "minutes"
        minutes = amount * WAIT_UNITS.get(unit, 1) if amount else None
        if minutes and minutes > MAX_WAIT_MINUTES:
            self.add_error("wait_amount", "Wait at most a year.")
        until = cleaned.get("wait_until_weekday") is not None or cleaned.get("wait_until_time") is not None
        if cleaned.get("kind") == StepKind.WAIT and minutes and until:
            self.add_error("wait_amount", "Either wait for a time, or until a weekday and time: not both.")
        cleaned["wait_minutes"] = minutes
        if not self.errors:
            for name, errors in services.step_check(self.apply_to(PlanStep())).items():
                for error in errors:
                    self.add_error("wait_amount" if name == "wait_minutes" else name, error)
        return cleaned

    def apply_to(self, step: PlanStep) -> PlanStep:
        data = self.cleaned_data
        step.kind = data.get("kind") or ""
        for name in ("subject", "body", "task_channel", "status", "tag"):
            setattr(step, name, (data.get(name) or "").strip() if name != "body" else data.get(name) or "")
        step.wait_minutes = data.get("wait_minutes")
        step.wait_until_weekday = data.get("wait_until_weekday")
        step.wait_until_time = data.get("wait_until_time")
        return step


def _split_minutes(minutes: int | None) -> tuple[int | None, str]:
    if not minutes:
        return None, "days"
    for unit in ("days", "hours"):
        if minutes % WAIT_UNITS[unit] == 0:
            return minutes // WAIT_UNITS[unit], unit
    return minutes, "minutes"


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(choices=[("email", "Email"), ("text", "Text"), ("call", "Call")])
    granted = forms.TypedChoiceField(choices=[("yes", "Granted"), ("no", "Refused")], coerce=lambda v: v == "yes")
    source = forms.CharField(max_length=100, required=False)
