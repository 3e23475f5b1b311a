"""A CSV row checked by the rules of POST /api/v2/leads without a serializer per row.

``RowValidator`` is compiled once per import from the API's own ``LeadInput``: each
import column is bound to that serializer's field for it (the same DRF field object,
so the same lengths, choices, decimal rules and messages), plus the serializer's own
per-field and cross-field steps (``validate_email``, ``validate_preferred_language``,
the phone's normalisation in ``ContactInput.validate``). Running a row then costs one
call per non-blank cell instead of a nested serializer's machinery, and a cell value
seen before is not checked again: every column's rule is a pure function of the cell's
text, so its result is kept (per column, a bounded number of distinct values: a file
whose phones, prices, cities or names repeat parses each one once).

A row the fast path cannot accept as it is (any cell that fails its field, a value of
an unexpected shape) is handed to ``LeadInput`` itself, whose answer (the validated
data, or the errors with the API's field names and messages) is the one used: a bad
row's report is the API's by construction, and the fast path never has to reproduce
an error message. ``leads.tests.test_import_rows`` checks on good and hostile rows
that both paths agree.
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.fields import SkipField

from leads.core import validation
from leads.core.inputs import LeadInput, flatten_errors

LIST_SEPARATOR = ";"
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}

CONTACT_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "preferred_contact_method",
    "best_time_to_contact",
    "preferred_language",
)
OPT_OUT_COLUMNS = ("email_opt_out", "sms_opt_out", "call_opt_out")
PREFERENCE_COLUMNS = ("min_price", "max_price", "min_bedrooms", "min_bathrooms", "min_square_feet")
PREFERENCE_LIST_COLUMNS = ("property_types", "preferred_locations", "must_have_features", "nice_to_have_features")
TIMELINE_COLUMNS = ("urgency_level", "financing_status", "target_move_date", "pre_approval_amount")
LEAD_COLUMNS = ("lead_type", "source", "status", "assigned_to")

CACHED_VALUES_PER_COLUMN = 5000  # distinct cell values kept per column; the column's cache restarts past it


class _Fallback(Exception):
    """The fast path does not take this row as it is: the serializer decides."""


def split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]


def boolean(value: str) -> bool | str:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return value  # LeadInput answers "Must be true or false."


def row_payload(raw: dict[str, str]) -> dict[str, Any]:
    """A CSV row as the nested body of POST /api/v2/leads; blank cells are left out."""

    def cell(name: str) -> str:
        value = raw.get(name)
        return value.strip() if isinstance(value, str) else ""

    contact: dict[str, Any] = {"first_name": cell("first_name")}
    contact.update({name: cell(name) for name in CONTACT_COLUMNS[1:] if cell(name)})
    contact.update({name: boolean(cell(name)) for name in OPT_OUT_COLUMNS if cell(name)})
    payload: dict[str, Any] = {"contact": contact, "lead_type": cell("lead_type")}
    payload.update({name: cell(name) for name in LEAD_COLUMNS[1:] if cell(name)})
    preferences: dict[str, Any] = {name: cell(name) for name in PREFERENCE_COLUMNS if cell(name)}
    preferences.update({name: split_list(cell(name)) for name in PREFERENCE_LIST_COLUMNS if cell(name)})
    timeline = {name: cell(name) for name in TIMELINE_COLUMNS if cell(name)}
    if preferences:
        payload["preferences"] = preferences
    if timeline:
        payload["timeline"] = timeline
    if cell("tags"):
        payload["tags"] = split_list(cell("tags"))
    return payload


class _Column:
    """One import column: the cell's key in the payload and its check, a pure
    function of the stripped cell text whose results are kept."""

    __slots__ = ("cache", "check", "name", "part")

    def __init__(self, name: str, part: str, check: Callable[[str], Any]):
        self.name = name
        self.part = part  # "contact", "preferences", "timeline" or "" (the lead)
        self.check = check
        self.cache: dict[str, Any] = {}

    def value(self, cell: str) -> Any:
        cache = self.cache
        try:
            return cache[cell]
        except KeyError:
            pass
        value = self.check(cell)  # raises _Fallback
        if len(cache) >= CACHED_VALUES_PER_COLUMN:
            cache.clear()  # keep memory flat on a file of distinct values
        cache[cell] = value
        return value


def _field_check(field, after: Callable[[Any], Any] | None = None, *, as_list: bool = False) -> Callable[[str], Any]:
    """The bound DRF field's run_validation (and the serializer's validate_<name>
    step), with any failure turned into _Fallback."""

    def check(cell: str) -> Any:
        data = split_list(cell) if as_list else cell
        try:
            value = field.run_validation(data)
            return after(value) if after is not None else value
        except (DRFValidationError, DjangoValidationError, SkipField):
            raise _Fallback from None

    return check


def _phone_check(field) -> Callable[[str], Any]:
    """The phone's field, then ContactInput.validate's normalisation: (phone, phone_is_valid)."""
    text = _field_check(field)

    def check(cell: str) -> tuple[str, bool]:
        value = text(cell)
        try:
            return validation.normalize_phone(value)
        except DjangoValidationError:
            raise _Fallback from None

    return check


def _boolean_check(field) -> Callable[[str], Any]:
    def check(cell: str) -> bool:
        value = boolean(cell)
        if not isinstance(value, bool):
            raise _Fallback
        return field.run_validation(value)

    return check


class RowValidator:
    """LeadInput's rules for import rows, compiled once (see the module's docstring)."""

    def __init__(self):
        self.serializer = LeadInput()
        fields = self.serializer.fields
        contact = fields["contact"]
        contact_fields = contact.fields
        part_fields = {"preferences": fields["preferences"].fields, "timeline": fields["timeline"].fields}
        self.columns: dict[str, _Column] = {}
        for name in CONTACT_COLUMNS:
            if name == "phone":
                check = _phone_check(contact_fields[name])
            else:
                check = _field_check(contact_fields[name], getattr(contact, f"validate_{name}", None))
            self.columns[name] = _Column(name, "contact", check)
        for name in OPT_OUT_COLUMNS:
            self.columns[name] = _Column(name, "contact", _boolean_check(contact_fields[name]))
        for name in LEAD_COLUMNS:
            if name != "assigned_to":  # resolved by the import (one query per distinct value)
                self.columns[name] = _Column(name, "", _field_check(fields[name]))
        for name in PREFERENCE_COLUMNS:
            self.columns[name] = _Column(name, "preferences", _field_check(part_fields["preferences"][name]))
        for name in PREFERENCE_LIST_COLUMNS:
            field = part_fields["preferences"][name]
            self.columns[name] = _Column(name, "preferences", _field_check(field, as_list=True))
        for name in TIMELINE_COLUMNS:
            self.columns[name] = _Column(name, "timeline", _field_check(part_fields["timeline"][name]))
        self.columns["tags"] = _Column("tags", "", _field_check(fields["tags"], as_list=True))
        self._lists = {*PREFERENCE_LIST_COLUMNS, "tags"}

    def validate(self, raw: dict[str, str]) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
        """(validated data, {}) as ``LeadInput`` gives it for the row's payload, or
        (None, errors) with LeadInput's flattened errors. ``assigned_to`` is left to the caller."""
        data = self.validate_cells(raw)
        if data is not None:
            return data, {}
        return self.validate_with_serializer(raw)

    def validate_cells(self, raw: dict[str, str]) -> dict[str, Any] | None:
        """The fast path: the row's validated data, or None when it does not take the
        row as it is (a cell its field refuses, a missing required cell) and the
        serializer must decide."""
        try:
            return self._fast(raw)
        except _Fallback:
            return None

    def validate_with_serializer(self, raw: dict[str, str]) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
        """The row checked by ``LeadInput`` itself, as the API checks a POST."""
        payload = row_payload(raw)
        payload.pop("assigned_to", None)
        try:
            return self.serializer.run_validation(payload), {}
        except DRFValidationError as exc:
            return None, flatten_errors(exc.detail)

    def _fast(self, raw: dict[str, str]) -> dict[str, Any]:
        columns = self.columns
        contact: dict[str, Any] = {}
        data: dict[str, Any] = {"contact": contact}
        parts: dict[str, dict[str, Any]] = {"contact": contact, "": data}
        for name in ("first_name", "lead_type"):  # always given, blank or not
            if not isinstance(raw.get(name), str):
                raise _Fallback
        for name, cell in raw.items():
            column = columns.get(name)
            if column is None:
                continue  # assigned_to, and columns the import does not know
            cell = cell.strip()
            if not cell and name not in ("first_name", "lead_type"):
                continue
            value = column.value(cell)
            part = parts.get(column.part)
            if part is None:
                part = parts[column.part] = data[column.part] = {}
            if name == "phone":
                part["phone"], part["phone_is_valid"] = value
            elif name in self._lists:
                part[name] = list(value)  # each lead its own list
            else:
                part[name] = value
        return data
