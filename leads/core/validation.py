"""Field rules shared by the API serializers, the agent forms, the CSV import and
the admin. Each function returns the normalised value or raises Django's
ValidationError with a message fit for a user."""

import re
import unicodedata
from datetime import datetime, timedelta

import phonenumbers
from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone

from leads.models import PropertyType

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SINGLE_LINE_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_PHONE_FORMATTING = re.compile(r"[\s().\-/]")
_PHONE_SHAPE = re.compile(r"^\+?\d{7,15}$")
_email_validator = EmailValidator(message="Enter a valid email address.")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Strip control characters (PostgreSQL cannot store NUL) and surrounding space.

    Everything else is kept exactly as given: output is escaped where it is shown.
    """
    pattern = _CONTROL_CHARS if multiline else _SINGLE_LINE_CONTROL_CHARS
    return pattern.sub("", value).strip()


def normalize_email(value: str) -> str:
    """Validate an address and lower-case its domain; '' stays ''."""
    value = clean_text(value)
    if not value:
        return ""
    _email_validator(value)
    return BaseUserManager.normalize_email(value)


LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,4})?$")


def normalize_language(value: str) -> str:
    """A short language code, lower-cased ("EN" -> "en", "pt-BR" -> "pt-br"); '' stays ''."""
    value = clean_text(value).lower().replace("_", "-")
    if value and not LANGUAGE_CODE.match(value):
        raise ValidationError('Use a short language code such as "en" or "es".')
    return value


def normalize_phone(value: str) -> tuple[str, bool]:
    """Return (number, is_valid) for a 7-15 digit number.

    The number is E.164 where it parses. A number that parses but does not exist in
    its region's plan (the seed's +1234567890) is kept and flagged, not refused.
    """
    compact = _PHONE_FORMATTING.sub("", clean_text(value))
    if not compact:
        return "", True
    if not _PHONE_SHAPE.match(compact):
        raise ValidationError("Enter a phone number of 7 to 15 digits, optionally starting with +.")
    try:
        parsed = phonenumbers.parse(compact, None if compact.startswith("+") else settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return compact, False
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not _PHONE_SHAPE.match(e164):
        return compact, False
    return e164, phonenumbers.is_valid_number(parsed)


def _choice_key(value: str) -> str:
    return re.sub(r"[\s\-]+", "_", unicodedata.normalize("NFKC", value).strip().lower())


_PROPERTY_TYPE_BY_KEY = {}
for _choice in PropertyType:
    _PROPERTY_TYPE_BY_KEY[_choice.value] = _choice.value
    _PROPERTY_TYPE_BY_KEY[_choice_key(_choice.label)] = _choice.value
_PROPERTY_TYPE_BY_KEY.update({"house": "single_family", "single_family_home": "single_family", "condominium": "condo"})


def normalize_property_type(value: str) -> str:
    """Map 'Single Family', 'single-family' or 'single_family' to the stored value."""
    key = _choice_key(clean_text(value))
    if key not in _PROPERTY_TYPE_BY_KEY:
        allowed = ", ".join(PropertyType.values)
        raise ValidationError(f'"{value[:60]}" is not a property type. Use one of: {allowed}.')
    return _PROPERTY_TYPE_BY_KEY[key]


def normalize_location(value: str) -> str:
    """A city or ZIP as typed, trimmed and with inner whitespace collapsed."""
    return re.sub(r"\s+", " ", clean_text(value))


def price_range_errors(min_price, max_price, *, prefix: str = "") -> dict[str, list[str]]:
    """The price rules on the final values (after a partial update is merged)."""
    errors: dict[str, list[str]] = {}
    if min_price is not None and min_price < 0:
        errors[f"{prefix}min_price"] = ["Must be zero or more."]
    if max_price is not None and max_price < 0:
        errors[f"{prefix}max_price"] = ["Must be zero or more."]
    if not errors and min_price is not None and max_price is not None and min_price > max_price:
        errors[f"{prefix}min_price"] = ["Must not be greater than max_price."]
    return errors


def not_in_the_future(value: datetime | None) -> datetime | None:
    """An interaction's time: returns ``value`` unless it is more than
    INTERACTION_MAX_FUTURE_MINUTES ahead of now (the margin forgives a caller's clock
    running a little fast). Something that has not happened yet is a follow-up, which
    has its own field."""
    if value is None:
        return value
    margin = timedelta(minutes=settings.INTERACTION_MAX_FUTURE_MINUTES)
    if value > timezone.now() + margin:
        raise ValidationError(
            f"Must not be more than {settings.INTERACTION_MAX_FUTURE_MINUTES} minutes in the future: log an "
            "interaction once it has happened, and schedule what comes next as a follow-up.",
            code="future",
        )
    return value
