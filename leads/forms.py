"""Forms of the agent pages.

They collect input and show errors; they hold no rules of their own. A lead or an
interaction is validated by the input serializers the API uses too (``leads.core.inputs``:
``LeadInput``, ``InteractionInput``) and the service, so a form shows the very
messages the API returns. Errors keyed like the API's (``contact.email``, ``preferences.min_price``)
land on the matching input.
"""

from typing import Any

from django import forms
from django.urls import reverse
from django.utils.html import format_html

from leads.accounts import permissions
from leads.core.duplicates import DuplicateLead
from leads.core.inputs import InteractionInput, LeadInput, flatten_errors
from leads.models import (
    ContactChannel,
    FinancingStatus,
    InteractionType,
    Lead,
    LeadSource,
    LeadStatus,
    LeadType,
    PropertyType,
    UrgencyLevel,
    User,
)


class ListField(forms.Field):
    """Several values from checkboxes, or one comma-separated text; no checks here."""

    def __init__(self, *, separator: str | None = None, **kwargs):
        self.separator = separator
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            value = value.split(self.separator) if self.separator else [value]
        parts = list(value)
        return [part.strip() for part in parts if part and part.strip()]

    def prepare_value(self, value):
        if self.separator and isinstance(value, list | tuple):
            return f"{self.separator} ".join(value)
        return value

    def has_changed(self, initial, data) -> bool:
        return self.to_python(initial) != self.to_python(data)


def _text(label: str, *, autocomplete: str = "off", input_type: str = "text", **attrs) -> forms.CharField:
    widget = forms.TextInput(attrs={"autocomplete": autocomplete, **attrs})
    widget.input_type = input_type
    return forms.CharField(label=label, required=False, strip=False, widget=widget)


def _choice(label: str, choices, *, blank: str | None = None) -> forms.CharField:
    options = ([("", blank)] if blank is not None else []) + list(choices)
    return forms.CharField(label=label, required=False, widget=forms.Select(choices=options))


def _number(label: str, **attrs) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, widget=forms.NumberInput(attrs={"min": "0", "inputmode": "decimal", **attrs})
    )


class ApiValidatedForm(forms.Form):
    """A form whose input is checked by a DRF serializer of the API.

    ``FIELD_PATHS`` maps each form field to its place in the API body.
    """

    FIELD_PATHS: dict[str, str] = {}
    serializer_class: type = LeadInput

    def __init__(self, *args, partial: bool = False, **kwargs):
        self.partial = partial
        self.validated_data: dict[str, Any] = {}
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        serializer = self.serializer_class(data=self.api_body(), partial=self.partial)
        if serializer.is_valid():
            self.validated_data = dict(serializer.validated_data)
        else:
            self.add_api_errors(flatten_errors(serializer.errors))
        return cleaned

    def api_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        names = self.changed_data if self.partial else self.FIELD_PATHS
        for name in names:
            if name not in self.FIELD_PATHS or name not in self.cleaned_data:
                continue
            value = self._api_value(name, self.cleaned_data[name])
            if value is _LEAVE_OUT:
                continue
            *parents, leaf = self.FIELD_PATHS[name].split(".")
            target = body
            for parent in parents:
                target = target.setdefault(parent, {})
            target[leaf] = value
        return body

    def _api_value(self, name: str, value):
        """Blank input is left out of a create; on an edit it clears the value."""
        field = self.fields[name]
        if isinstance(field, forms.BooleanField):
            return bool(value)
        if isinstance(field, ListField):
            return value if value or self.partial else _LEAVE_OUT
        if value not in ("", None):
            return value
        if name in self.ALWAYS_SENT:
            return ""  # the serializer answers "This field may not be blank."
        if not self.partial:
            return _LEAVE_OUT
        return None if name in self.NULL_WHEN_BLANK else ""

    ALWAYS_SENT: tuple[str, ...] = ()
    NULL_WHEN_BLANK: tuple[str, ...] = ()

    def add_api_errors(self, fields: dict[str, list[str]]) -> None:
        """Put errors keyed by API path ('contact.email', 'preferences.min_price[0]')
        on the matching inputs; the rest become errors of the whole form."""
        for key, messages in fields.items():
            name = self._field_for(key)
            for message in messages:
                self.add_error(name, message)

    def _field_for(self, key: str) -> str | None:
        for name, path in self.FIELD_PATHS.items():
            if key == path or key.startswith((f"{path}.", f"{path}[")):
                return name
        return None


_LEAVE_OUT = object()


class LeadForm(ApiValidatedForm):
    first_name = _text("First name", autocomplete="off", required=True, maxlength=100)
    last_name = _text("Last name", maxlength=100)
    email = _text("Email", input_type="email", maxlength=254)
    phone = _text("Phone", input_type="tel", maxlength=40)
    preferred_contact_method = _choice("Preferred channel", ContactChannel.choices)
    best_time_to_contact = _text("Best time to reach", maxlength=100, placeholder="e.g. weekdays after 6pm")
    preferred_language = _text("Language", maxlength=8, placeholder="e.g. en, es")
    email_opt_out = forms.BooleanField(label="No emails", required=False)
    sms_opt_out = forms.BooleanField(label="No texts", required=False)
    call_opt_out = forms.BooleanField(label="No calls", required=False)

    lead_type = _choice("Lead type", LeadType.choices)
    source = _choice("Source", LeadSource.choices)
    assigned_to = _choice("Agent", [], blank="Unassigned")

    property_types = ListField(
        label="Property types", widget=forms.CheckboxSelectMultiple(choices=PropertyType.choices)
    )
    min_price = _number("Min price ($)", step="1000")
    max_price = _number("Max price ($)", step="1000")
    preferred_locations = ListField(
        label="Locations",
        separator=",",
        widget=forms.TextInput(attrs={"placeholder": "City or ZIP, comma-separated"}),
    )
    min_bedrooms = _number("Min bedrooms", step="1", max="50")
    min_bathrooms = _number("Min bathrooms", step="0.5", max="50")

    urgency_level = _choice("Urgency", UrgencyLevel.choices)
    financing_status = _choice("Financing", FinancingStatus.choices)
    target_move_date = _text("Target move date", input_type="date")
    pre_approval_amount = _number("Pre-approval ($)", step="1000")
    tags = ListField(label="Tags", separator=",", widget=forms.TextInput(attrs={"placeholder": "comma-separated"}))

    FIELD_PATHS = {
        "first_name": "contact.first_name",
        "last_name": "contact.last_name",
        "email": "contact.email",
        "phone": "contact.phone",
        "preferred_contact_method": "contact.preferred_contact_method",
        "best_time_to_contact": "contact.best_time_to_contact",
        "preferred_language": "contact.preferred_language",
        "email_opt_out": "contact.email_opt_out",
        "sms_opt_out": "contact.sms_opt_out",
        "call_opt_out": "contact.call_opt_out",
        "lead_type": "lead_type",
        "source": "source",
        "assigned_to": "assigned_to",
        "property_types": "preferences.property_types",
        "min_price": "preferences.min_price",
        "max_price": "preferences.max_price",
        "preferred_locations": "preferences.preferred_locations",
        "min_bedrooms": "preferences.min_bedrooms",
        "min_bathrooms": "preferences.min_bathrooms",
        "urgency_level": "timeline.urgency_level",
        "financing_status": "timeline.financing_status",
        "target_move_date": "timeline.target_move_date",
        "pre_approval_amount": "timeline.pre_approval_amount",
        "tags": "tags",
    }
    ALWAYS_SENT = ("first_name", "lead_type")
    NULL_WHEN_BLANK = (
        "assigned_to",
        "min_price",
        "max_price",
        "min_bedrooms",
        "min_bathrooms",
        "target_move_date",
        "pre_approval_amount",
    )
    SECTIONS = {
        "Contact": (
            "first_name",
            "last_name",
            "email",
            "phone",
            "preferred_contact_method",
            "best_time_to_contact",
            "preferred_language",
            "email_opt_out",
            "sms_opt_out",
            "call_opt_out",
        ),
        "Lead": ("lead_type", "source", "assigned_to", "tags"),
        "Looking for": (
            "property_types",
            "min_price",
            "max_price",
            "preferred_locations",
            "min_bedrooms",
            "min_bathrooms",
        ),
        "Timeline": ("urgency_level", "financing_status", "target_move_date", "pre_approval_amount"),
    }

    def __init__(self, *args, actor: User, agents: list[User] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if permissions.can_reassign(actor) and agents is not None:
            # a new lead left unassigned is routed by the team's rules once it is saved
            blank = "Unassigned" if self.partial else "Route by the rules (no agent yet)"
            choices = [(agent.username, str(agent)) for agent in agents]
            self.fields["assigned_to"].widget.choices = [("", blank), *choices]
        else:
            del self.fields["assigned_to"]  # agents keep their own leads
        if not self.partial:
            self.fields["urgency_level"].initial = UrgencyLevel.NORMAL
            self.fields["financing_status"].initial = FinancingStatus.NOT_STARTED
            self.fields["source"].initial = LeadSource.OTHER

    def add_duplicate_error(self, error: DuplicateLead, *, existing: Lead | None) -> None:
        """Refuse a lead the team already has: the matching inputs say why, and the
        form names the existing lead, linked, when the actor may see it (``existing``)."""
        self.add_api_errors(error.fields)
        if existing is None:
            self.add_error(None, "This person already exists in the team, as a lead you cannot see.")
            return
        url = reverse("leads:lead_detail", args=[existing.public_id])
        name = existing.contact.full_name or existing.public_id
        self.add_error(None, format_html('This person is already a lead: <a href="{}">{}</a>.', url, name))

    def sections(self):
        """(title, bound fields) in display order."""
        return [
            (title, [self[name] for name in names if name in self.fields]) for title, names in self.SECTIONS.items()
        ]

    @staticmethod
    def initial_for(lead: Lead) -> dict[str, Any]:
        """The form's values for an existing lead (expects ``with_lead_details``)."""
        contact, preferences, timeline = lead.contact, lead.preferences, lead.timeline
        return {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "phone": contact.phone,
            "preferred_contact_method": contact.preferred_contact_method,
            "best_time_to_contact": contact.best_time_to_contact,
            "preferred_language": contact.preferred_language,
            "email_opt_out": contact.email_opt_out,
            "sms_opt_out": contact.sms_opt_out,
            "call_opt_out": contact.call_opt_out,
            "lead_type": lead.lead_type,
            "source": lead.source,
            "assigned_to": lead.assigned_to.username if lead.assigned_to else "",
            "property_types": list(preferences.property_types),
            "min_price": _plain_number(preferences.min_price),
            "max_price": _plain_number(preferences.max_price),
            "preferred_locations": list(preferences.preferred_locations),
            "min_bedrooms": "" if preferences.min_bedrooms is None else str(preferences.min_bedrooms),
            "min_bathrooms": _plain_number(preferences.min_bathrooms),
            "urgency_level": timeline.urgency_level,
            "financing_status": timeline.financing_status,
            "target_move_date": timeline.target_move_date.isoformat() if timeline.target_move_date else "",
            "pre_approval_amount": _plain_number(timeline.pre_approval_amount),
            "tags": [str(tag) for tag in lead.tags],
        }


def _plain_number(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == value.to_integral_value() else str(value.normalize())


class InteractionForm(ApiValidatedForm):
    type = _choice("Type", InteractionType.choices)
    summary = _text("Summary", maxlength=500, required=True, placeholder="What happened?")
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    next_steps = forms.CharField(label="Next steps", required=False, widget=forms.Textarea(attrs={"rows": 1}))
    follow_up_due_at = _text("Follow up by", input_type="datetime-local")

    serializer_class = InteractionInput
    FIELD_PATHS = {name: name for name in ("type", "summary", "notes", "next_steps", "follow_up_due_at")}
    ALWAYS_SENT = ("type", "summary")
    NULL_WHEN_BLANK = ("follow_up_due_at",)


class StatusForm(forms.Form):
    status = _choice("Status", LeadStatus.choices)


class AssignForm(forms.Form):
    agent = _choice("Agent", [], blank="Unassigned")

    def __init__(self, *args, agents: list[User], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].widget.choices = [("", "Unassigned")] + [(agent.username, str(agent)) for agent in agents]


class FollowUpForm(forms.Form):
    title = _text("Task", maxlength=200, required=True, placeholder="e.g. Send listings in Oakland")
    due_at = forms.DateTimeField(
        label="Due",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"required": "Enter a due date and time.", "invalid": "Enter a due date and time."},
    )


class SavedFilterForm(forms.Form):
    name = _text("Name", maxlength=60, required=True, placeholder="e.g. Hot buyers in Oakland")


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={"required": "Choose a CSV file to upload."},
    )
    route_unassigned = forms.BooleanField(
        label="Route unassigned leads",
        required=False,
        help_text="Rows that name no agent go through the routing rules, as leads from the API do.",
    )


class BulkActionForm(forms.Form):
    ACTIONS = [("assign", "Assign to"), ("status", "Change status to")]

    action = _choice("Bulk action", ACTIONS)
    agent = _choice("Agent", [], blank="Unassigned")
    status = _choice("Status", LeadStatus.choices)

    def __init__(self, *args, agents: list[User], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].widget.choices = [("", "Unassigned")] + [(agent.username, str(agent)) for agent in agents]
