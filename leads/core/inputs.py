"""Input serializers shared by the API, the agent pages and the CSV import: JSON (or
form or CSV values) -> validated values for LeadManagementService, and their errors
as ``{"contact.email": ["..."]}`` (``flatten_errors``).

Field formats come from ``leads.core.validation`` (shared with the admin too); rules that
need the merged lead (min <= max, a way to reach the lead) are checked by the
service. The seed's field names (``property_type``, ``bedrooms``,
``desired_move_in_date``, ``timestamp``...) are accepted as aliases. The API's own
query and option serializers are in ``leads.api.serializers``.
"""

import datetime
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_date
from rest_framework import serializers

from leads.core import selectors, validation
from leads.models import (
    ContactChannel,
    FinancingStatus,
    InteractionDirection,
    InteractionType,
    LeadSource,
    LeadStatus,
    LeadType,
    UrgencyLevel,
)

RESERVED_METADATA_KEYS = {"market_analysis", "lead_insights", "processing"}


class Choice(serializers.ChoiceField):
    """A choice field whose error names the allowed values."""

    def __init__(self, choices, **kwargs):
        super().__init__(choices=choices, **kwargs)
        allowed = ", ".join(str(value) for value, _ in choices)
        self.error_messages["invalid_choice"] = f'"{{input}}" is not valid. Use one of: {allowed}.'

    def to_internal_value(self, data):
        if not isinstance(data, str) or data.strip() not in self.choice_strings_to_values:
            self.fail("invalid_choice", input=str(data)[:60])  # echo a bounded part of the input
        return super().to_internal_value(data.strip())


class Text(serializers.CharField):
    """Text with control characters removed and surrounding space trimmed.

    ``null`` is stored as an empty string. Non-string JSON (numbers, objects) is refused.
    """

    def __init__(self, *, multiline: bool = False, **kwargs):
        self.multiline = multiline
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        value = validation.clean_text(data, multiline=self.multiline)
        if not value and not self.allow_blank:
            self.fail("blank")
        return super().to_internal_value(value)

    def validate_empty_values(self, data):
        if data is None and self.allow_null:
            return True, ""
        return super().validate_empty_values(data)


class TextList(serializers.ListField):
    """A list of short strings; ``null`` clears it."""

    def __init__(self, *, item_max_length: int = 100, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("child", Text(max_length=item_max_length, allow_null=False, allow_blank=False))
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None and self.allow_null:
            return True, []
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        return list(dict.fromkeys(values))  # drop repeats, keep order


class PropertyTypeList(TextList):
    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        errors, normalised = {}, []
        for index, value in enumerate(values):
            try:
                normalised.append(validation.normalize_property_type(value))
            except DjangoValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise serializers.ValidationError(errors)
        return list(dict.fromkeys(normalised))


class LocationList(TextList):
    def to_internal_value(self, data):
        return list(dict.fromkeys(validation.normalize_location(value) for value in super().to_internal_value(data)))


class Money(serializers.DecimalField):
    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(max_digits=14, decimal_places=2, min_value=0, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class DateOrDateTime(serializers.Field):
    """A date; also takes an ISO datetime (the seed's ``desired_move_in_date``)."""

    default_error_messages = {"invalid": "Enter a date as YYYY-MM-DD."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        text = data.strip()
        try:
            parsed = parse_date(text[:10]) if len(text) >= 10 else None
            if parsed is None or (len(text) > 10 and text[10] not in "T "):
                raise ValueError
            if len(text) > 10:
                datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail("invalid")
        return parsed

    def to_representation(self, value):
        return value.isoformat()


class StrictBoolean(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be true or false.")
        return data


class SmallCount(serializers.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 100)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        return super().to_internal_value(data)


class ContactInput(serializers.Serializer):
    first_name = Text(max_length=100, allow_blank=False, allow_null=False)
    last_name = Text(max_length=100, required=False)
    email = Text(max_length=254, required=False)
    phone = Text(max_length=40, required=False)
    preferred_contact_method = Choice(ContactChannel.choices, required=False)
    best_time_to_contact = Text(max_length=100, required=False)
    preferred_language = Text(
        max_length=8, required=False, help_text='A short language code, e.g. "en" or "es" (routing rules match on it).'
    )
    email_opt_out = StrictBoolean(required=False)
    sms_opt_out = StrictBoolean(required=False)
    call_opt_out = StrictBoolean(required=False)

    def validate_email(self, value):
        return validation.normalize_email(value)

    def validate_preferred_language(self, value):
        try:
            return validation.normalize_language(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate(self, attrs):
        if "phone" in attrs:
            try:
                attrs["phone"], attrs["phone_is_valid"] = validation.normalize_phone(attrs["phone"])
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"phone": exc.messages}) from None
        return attrs


class PreferencesInput(serializers.Serializer):
    property_types = PropertyTypeList(required=False)
    property_type = PropertyTypeList(required=False, help_text="Seed alias of property_types.")
    min_price = Money(required=False)
    max_price = Money(required=False)
    preferred_locations = LocationList(required=False)
    min_bedrooms = SmallCount(required=False, max_value=50)
    bedrooms = SmallCount(required=False, max_value=50, help_text="Seed alias of min_bedrooms.")
    min_bathrooms = serializers.DecimalField(
        max_digits=4, decimal_places=1, min_value=0, max_value=50, allow_null=True, required=False
    )
    bathrooms = serializers.DecimalField(
        max_digits=4, decimal_places=1, min_value=0, max_value=50, allow_null=True, required=False
    )
    min_square_feet = SmallCount(required=False, max_value=1_000_000)
    square_feet = SmallCount(required=False, max_value=1_000_000)
    must_have_features = TextList(required=False, max_length=30)
    nice_to_have_features = TextList(required=False, max_length=30)

    ALIASES = {
        "property_type": "property_types",
        "bedrooms": "min_bedrooms",
        "bathrooms": "min_bathrooms",
        "square_feet": "min_square_feet",
    }

    def validate(self, attrs):
        return _resolve_aliases(attrs, self.ALIASES)


class TimelineInput(serializers.Serializer):
    urgency_level = Choice(UrgencyLevel.choices, required=False)
    financing_status = Choice(FinancingStatus.choices, required=False)
    target_move_date = DateOrDateTime(required=False, allow_null=True)
    desired_move_in_date = DateOrDateTime(required=False, allow_null=True)
    pre_approval_amount = Money(required=False)

    def validate(self, attrs):
        return _resolve_aliases(attrs, {"desired_move_in_date": "target_move_date"})


class AssigneeField(serializers.Field):
    """A username or user id; resolves to an active user. ``null`` unassigns."""

    default_error_messages = {"unknown": "No active user with this username or id."}

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)) or len(str(data)) > 150:
            self.fail("unknown")
        user = selectors.agent_get(identifier=data.strip() if isinstance(data, str) else data)
        if user is None:
            self.fail("unknown")
        return user


class CustomFields(serializers.DictField):
    """The seed's free ``metadata``: up to 50 string values, shown in ``lead.metadata``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", Text(max_length=500, allow_null=False))
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, {}
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if len(values) > 50:
            raise serializers.ValidationError("At most 50 keys.")
        bad = [
            key
            for key in values
            if key in RESERVED_METADATA_KEYS or len(key) > 64 or not key.strip() or not key.isprintable()
        ]
        if bad:
            shown = ", ".join(sorted(key[:40] for key in bad)[:5])
            raise serializers.ValidationError(f"Keys not allowed: {shown}.")
        return values


class LeadInput(serializers.Serializer):
    """A lead to create; with ``partial=True``, the changes of an update."""

    contact = ContactInput()
    lead_type = Choice(LeadType.choices)
    source = Choice(LeadSource.choices, required=False)
    status = Choice(LeadStatus.choices, required=False)
    assigned_to = AssigneeField(required=False)
    preferences = PreferencesInput(required=False, allow_null=True)
    timeline = TimelineInput(required=False, allow_null=True)
    tags = TextList(required=False, item_max_length=50)
    metadata = CustomFields(required=False, source="custom_fields")


class InteractionInput(serializers.Serializer):
    type = Choice(InteractionType.choices)
    direction = Choice(InteractionDirection.choices, required=False)
    summary = Text(max_length=500, allow_blank=False, allow_null=False)
    notes = Text(max_length=10_000, multiline=True, required=False)
    next_steps = Text(max_length=2_000, multiline=True, required=False)
    follow_up_due_at = serializers.DateTimeField(required=False, allow_null=True)
    next_follow_up = serializers.DateTimeField(required=False, allow_null=True, help_text="Seed alias.")
    # When it happened: not in the future (the follow-up fields above are for what comes next).
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, validators=[validation.not_in_the_future])
    timestamp = serializers.DateTimeField(
        required=False,
        allow_null=True,
        validators=[validation.not_in_the_future],
        help_text="Seed alias of occurred_at.",
    )

    def validate(self, attrs):
        return _resolve_aliases(attrs, {"next_follow_up": "follow_up_due_at", "timestamp": "occurred_at"})


def _resolve_aliases(attrs: dict, aliases: dict[str, str]) -> dict:
    for alias, name in aliases.items():
        if alias in attrs:
            value = attrs.pop(alias)
            attrs.setdefault(name, value)
    return attrs


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def printable(text: str) -> str:
    """``text`` with control characters shown as U+FFFD. Field names and messages echo
    the caller's input, and an answer must stay readable and storable (PostgreSQL's
    jsonb refuses NUL, and Idempotency-Key answers are stored)."""
    return _CONTROL_CHARACTERS.sub("\ufffd", text)


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"contact.email": ["..."]}, in printable text."""
    fields: dict[str, list[str]] = {}
    for name, messages in _flatten(detail, prefix).items():
        fields.setdefault(printable(name), []).extend(printable(message) for message in messages)
    return fields


def _flatten(detail, prefix: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                name = prefix
            elif isinstance(key, int):  # a ListField's errors, keyed by item index
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for child, messages in _flatten(value, name).items():
                fields.setdefault(child, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            fields[prefix or "body"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    for child, messages in _flatten(item, f"{prefix}[{index}]").items():
                        fields.setdefault(child, []).extend(messages)
    else:
        fields[prefix or "body"] = [str(detail)]
    return fields
