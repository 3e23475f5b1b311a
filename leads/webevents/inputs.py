"""The input of a web activity event, shared by the API and ``services.record_web_event``:
values in, typed values (or field errors) out. One validator, so an event the alerts
record is held to the same rules as one an IDX website posts."""

import json
import re
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from leads.core.inputs import Choice, Text
from leads.webevents.models import WebEventKind

EVENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$")
SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,15}$")
MAX_JSON_BYTES = 4096  # data and search, each, as compact JSON


def max_future() -> timedelta:
    """How far ahead of our clock an event's time may be (the sender's clock may run fast)."""
    return timedelta(minutes=settings.WEB_EVENTS_MAX_FUTURE_MINUTES)


def max_age() -> timedelta:
    return timedelta(days=settings.WEB_EVENTS_MAX_AGE_DAYS)


class HttpUrl(serializers.URLField):
    """An http(s) URL, at most 500 characters; null or "" for none."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data.strip())
        if value and not value.lower().startswith(("http://", "https://")):
            self.fail("invalid")
        return value


class BoundedObject(serializers.JSONField):
    """A JSON object of at most MAX_JSON_BYTES (compact); null for none."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        size = len(json.dumps(data, separators=(",", ":"), default=str).encode())
        if size > MAX_JSON_BYTES:
            raise serializers.ValidationError(f"Too large: {size} bytes; at most {MAX_JSON_BYTES}.")
        return super().to_internal_value(data)


class WebEventInput(serializers.Serializer):
    """One web activity event. ``occurred_at`` is the event's own time (ISO 8601; a time
    without an offset is taken as UTC): not more than a few minutes ahead of the
    server's clock, and not older than a year."""

    event_id = serializers.CharField(
        max_length=100,
        trim_whitespace=True,
        help_text="The sender's id for the event: letters, digits and . _ : - (at most 100). Sending the same "
        "id again is harmless: the event is stored once.",
    )
    kind = Choice(WebEventKind.choices)
    occurred_at = serializers.DateTimeField()
    listing_ref = Text(max_length=64, required=False, help_text="The listing's external id or MLS number.")
    listing_url = HttpUrl()
    search = BoundedObject(help_text="A saved search's criteria (search_saved).")
    page_url = HttpUrl()
    source = serializers.CharField(max_length=16, required=False, default="idx", help_text='"idx", "alert", ...')
    data = BoundedObject(help_text=f"Anything else the sender keeps, at most {MAX_JSON_BYTES} bytes as JSON.")

    def validate_event_id(self, value: str) -> str:
        if not EVENT_ID_RE.match(value):
            raise serializers.ValidationError("Use letters, digits and . _ : - only (at most 100 characters).")
        return value

    def validate_source(self, value: str) -> str:
        value = value.strip().lower()
        if not SOURCE_RE.match(value):
            raise serializers.ValidationError("Use lower-case letters, digits, _ and - (at most 16).")
        return value

    def validate_occurred_at(self, value):
        now = timezone.now()
        if value > now + max_future():
            raise serializers.ValidationError(
                f"Must not be more than {settings.WEB_EVENTS_MAX_FUTURE_MINUTES} minutes in the future."
            )
        if value < now - max_age():
            raise serializers.ValidationError(
                f"Too old: events older than {settings.WEB_EVENTS_MAX_AGE_DAYS} days are not accepted."
            )
        return value

    def validate(self, attrs):
        kind = attrs["kind"]
        if kind == WebEventKind.SEARCH_SAVED and not attrs.get("search"):
            raise serializers.ValidationError({"search": ["A saved search needs its criteria."]})
        listing_kinds = (WebEventKind.LISTING_VIEWED, WebEventKind.LISTING_SAVED)
        if kind in listing_kinds and not attrs.get("listing_ref") and not attrs.get("listing_url"):
            raise serializers.ValidationError({"listing_ref": ["Give the listing's id (listing_ref) or its URL."]})
        attrs.setdefault("listing_ref", "")
        attrs.setdefault("source", "idx")
        for name in ("listing_url", "page_url"):
            attrs[name] = attrs.get(name) or ""
        attrs["data"] = attrs.get("data") or {}
        attrs["search"] = attrs.get("search") or None
        return attrs
