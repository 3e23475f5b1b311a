"""The forms of the leads back office: they check input with the rules of
``leads.core.validation`` and translate it for the service; none of them saves."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db.models import Q

from leads.core import validation
from leads.core.services import CONTACT_FIELDS, PREFERENCE_FIELDS, TIMELINE_FIELDS
from leads.errors import ApplicationError
from leads.models import (
    Contact,
    Interaction,
    InteractionDirection,
    Lead,
    LeadStatus,
    Preferences,
    PropertyType,
    Timeline,
    User,
)

INTERACTION_FIELDS = ("type", "direction", "summary", "notes", "next_steps", "occurred_at", "follow_up_due_at")


# --- form fields ---------------------------------------------------------------


class LineListField(forms.CharField):
    """A list of short strings, edited one per line; blank lines and repeats dropped."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, *, normalize=validation.clean_text, max_items: int = 20, item_max_length: int = 100, **kwargs):
        self.normalize, self.max_items, self.item_max_length = normalize, max_items, item_max_length
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "One per line.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        lines = (self.normalize(line) for line in super().to_python(value).splitlines())
        return list(dict.fromkeys(line for line in lines if line))

    def validate(self, value):
        super().validate(value)
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} lines.")
        if any(len(item) > self.item_max_length for item in value):
            raise ValidationError(f"Each line must be at most {self.item_max_length} characters.")

    def has_changed(self, initial, data) -> bool:
        try:
            return (initial or []) != self.to_python(data)
        except ValidationError:
            return True


def _not_negative(form: forms.Form, *names: str) -> None:
    for name in names:
        if name in form.fields:
            form.fields[name].validators.append(MinValueValidator(0, "Must be zero or more."))


def _clean_text_field(form: forms.Form, name: str, *, multiline: bool = False) -> str:
    value = validation.clean_text(form.cleaned_data[name], multiline=multiline)
    if not value and form.fields[name].required:
        raise ValidationError("This field is required.", code="required")
    return value


# --- forms ---------------------------------------------------------------------


class LeadForm(forms.ModelForm):
    """The lead's own fields. ``expected_version`` guards against overwriting a
    change made by someone else since the page was opened."""

    tags = LineListField(item_max_length=50)
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    # Set by LeadAdmin.get_form on the second rendering after a service refusal.
    refusal: ApplicationError | None = None

    class Meta:
        model = Lead
        fields = ("lead_type", "source", "status", "assigned_to", "tags")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["expected_version"] = self.instance.version
        if "assigned_to" in self.fields:
            self.fields["assigned_to"].queryset = User.objects.filter(
                Q(is_active=True) | Q(pk=self.instance.assigned_to_id)
            ).order_by("first_name", "last_name", "username")

    def clean(self):
        cleaned = super().clean()
        if self.refusal is not None:
            self._show_refusal(self.refusal)
        return cleaned

    def _show_refusal(self, refusal: ApplicationError) -> None:
        if not refusal.fields:
            self.add_error(None, f"Nothing was saved: {refusal.message}")
        for key, problems in refusal.fields.items():
            if key in self.fields:
                self.add_error(key, problems)
            else:
                label = key.replace(".", " / ").replace("_", " ").capitalize()
                self.add_error(None, [f"{label}: {problem}" for problem in problems])


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = tuple(field for field in CONTACT_FIELDS if field != "phone_is_valid")

    def clean_first_name(self):
        return _clean_text_field(self, "first_name")

    def clean_last_name(self):
        return _clean_text_field(self, "last_name")

    def clean_best_time_to_contact(self):
        return _clean_text_field(self, "best_time_to_contact")

    def clean_email(self):
        return validation.normalize_email(self.cleaned_data["email"])

    def clean_phone(self):
        phone, self.cleaned_data["phone_is_valid"] = validation.normalize_phone(self.cleaned_data["phone"])
        return phone

    def clean(self):
        cleaned = super().clean()
        if "email" in cleaned and "phone" in cleaned and not (cleaned["email"] or cleaned["phone"]):
            # On the field, so the model's reachability constraint is not reported twice.
            self.add_error("email", "A lead needs an email address or a phone number.")
        return cleaned


class PreferencesForm(forms.ModelForm):
    property_types = forms.MultipleChoiceField(
        choices=PropertyType.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    preferred_locations = LineListField(normalize=validation.normalize_location, help_text="City or ZIP, one per line.")
    must_have_features = LineListField(max_items=30)
    nice_to_have_features = LineListField(max_items=30)

    class Meta:
        model = Preferences
        fields = PREFERENCE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _not_negative(self, "min_bathrooms")

    def clean(self):
        cleaned = super().clean()
        price_errors = validation.price_range_errors(cleaned.get("min_price"), cleaned.get("max_price"))
        for field, problems in price_errors.items():
            self.add_error(field, problems)
        return cleaned


class TimelineForm(forms.ModelForm):
    class Meta:
        model = Timeline
        fields = TIMELINE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _not_negative(self, "pre_approval_amount")


class InteractionForm(forms.ModelForm):
    # Left empty, the service decides: notes are internal, everything else outbound.
    direction = forms.ChoiceField(choices=[("", "By type"), *InteractionDirection.choices], required=False, initial="")

    class Meta:
        model = Interaction
        fields = INTERACTION_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 2}), "next_steps": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"].required = False
        self.fields["occurred_at"].help_text = "Empty: now."

    def clean_occurred_at(self):
        return validation.not_in_the_future(self.cleaned_data.get("occurred_at"))

    def clean_summary(self):
        return _clean_text_field(self, "summary")

    def clean_notes(self):
        return _clean_text_field(self, "notes", multiline=True)

    def clean_next_steps(self):
        return _clean_text_field(self, "next_steps", multiline=True)


class AssignLeadsForm(forms.Form):
    agent = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("first_name", "last_name", "username"),
        help_text="Only active users are listed.",
    )


class ChangeStatusForm(forms.Form):
    status = forms.ChoiceField(choices=LeadStatus.choices)
