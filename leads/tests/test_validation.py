"""Field rules shared by the API, the forms and the import (leads.core.validation)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from leads.core.validation import (
    clean_text,
    normalize_email,
    normalize_location,
    normalize_phone,
    normalize_property_type,
    price_range_errors,
)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("john@example.com", "john@example.com"),
        ("John.Doe@Example.COM", "John.Doe@example.com"),
        ("  MiXeD@SUB.Example.Org  ", "MiXeD@sub.example.org"),
        ("a\x00b@example.com", "ab@example.com"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_email_lower_cases_the_domain_only(given, stored):
    assert normalize_email(given) == stored


@pytest.mark.parametrize(
    "given", ["not-an-email", "john@", "@example.com", "john@@example.com", "john doe@example.com", "john@exa mple.com"]
)
def test_normalize_email_refuses_invalid_addresses(given):
    with pytest.raises(ValidationError):
        normalize_email(given)


@pytest.mark.parametrize(
    ("given", "stored", "valid"),
    [
        ("+1234567890", "+1234567890", False),  # the seed's number: kept, flagged
        ("(415) 555-0134", "+14155550134", True),
        ("415.555.0134", "+14155550134", True),
        ("+1 415 555 0134", "+14155550134", True),
        ("+44 20 7946 0958", "+442079460958", True),
        ("+33 1 23 45 67 89", "+33123456789", True),
        ("1234567", "+11234567", False),  # no country code: read in PHONE_DEFAULT_REGION (US)
        ("", "", True),
    ],
)
def test_normalize_phone_stores_e164_and_flags_numbers_that_do_not_exist(given, stored, valid):
    assert normalize_phone(given) == (stored, valid)


@pytest.mark.parametrize(
    "given",
    [
        "123456",  # 6 digits
        "+1234567890123456",  # 16 digits
        "1234567890123456",
        "555-CALL-NOW",
        "call me",
        "+1 415 555 0134 ext 2",
        "++14155550134",
        "+",
    ],
)
def test_normalize_phone_refuses_what_is_not_7_to_15_digits(given):
    with pytest.raises(ValidationError):
        normalize_phone(given)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Single Family", "single_family"),
        ("single-family", "single_family"),
        ("single_family", "single_family"),
        ("  CONDO ", "condo"),
        ("Multi-Family", "multi_family"),
        ("Mobile Home", "mobile_home"),
        ("house", "single_family"),
    ],
)
def test_normalize_property_type_maps_labels_and_spellings_to_the_stored_value(given, stored):
    assert normalize_property_type(given) == stored


@pytest.mark.parametrize("given", ["Castle", "", "condo!"])
def test_normalize_property_type_refuses_unknown_types(given):
    with pytest.raises(ValidationError):
        normalize_property_type(given)


def test_clean_text_strips_control_characters_and_keeps_everything_else():
    assert clean_text("  Zo\x00ë\x07 🏡 <b>  ") == "Zoë 🏡 <b>"
    assert clean_text("a\nb\tc") == "abc"
    assert clean_text("a\nb\tc\r\n\x00", multiline=True) == "a\nb\tc"


def test_normalize_location_collapses_inner_whitespace():
    assert normalize_location("  San   Francisco\x00 ") == "San Francisco"


@pytest.mark.parametrize(
    ("low", "high", "errors"),
    [
        (None, None, {}),
        (Decimal(1), None, {}),
        (Decimal(5), Decimal(5), {}),
        (Decimal(6), Decimal(5), {"p.min_price": ["Must not be greater than max_price."]}),
        (Decimal(-1), None, {"p.min_price": ["Must be zero or more."]}),
        (None, Decimal(-1), {"p.max_price": ["Must be zero or more."]}),
    ],
)
def test_price_range_errors(low, high, errors):
    assert price_range_errors(low, high, prefix="p.") == errors
