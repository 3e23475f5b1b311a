"""CSV import and export of leads.

An import is a ``LeadImport`` job: the upload is checked and stored, then a worker
(``leads.tasks``) runs it row by row. Each row is validated by the API's
``LeadInput`` and created through ``LeadManagementService.create_lead``, so a CSV
row obeys exactly the rules of a POST to /api/v2/leads. A row that duplicates a
lead the team already has (``leads.duplicates``: the same rule as the API), or an
earlier row of the same file, is skipped and listed in the report with the
existing lead's id when the uploader may see that lead.
"""

import csv
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from leads.api.errors import flatten_errors
from leads.api.representations import iso, number
from leads.api.serializers import LeadInput
from leads.duplicates import DuplicateLead, DuplicateMatch
from leads.errors import ApplicationError, ValidationFailed
from leads.models import AuditChannel, ImportStatus, Lead, LeadImport, User
from leads.services import LeadManagementService

logger = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 10_000
PROGRESS_EVERY_ROWS = 10
LIST_SEPARATOR = ";"

CONTACT_COLUMNS = ("first_name", "last_name", "email", "phone", "preferred_contact_method", "best_time_to_contact")
OPT_OUT_COLUMNS = ("email_opt_out", "sms_opt_out", "call_opt_out")
PREFERENCE_COLUMNS = ("min_price", "max_price", "min_bedrooms", "min_bathrooms", "min_square_feet")
PREFERENCE_LIST_COLUMNS = ("property_types", "preferred_locations", "must_have_features", "nice_to_have_features")
TIMELINE_COLUMNS = ("urgency_level", "financing_status", "target_move_date", "pre_approval_amount")
LEAD_COLUMNS = ("lead_type", "source", "status", "assigned_to")
IMPORT_COLUMNS = (
    *CONTACT_COLUMNS,
    *OPT_OUT_COLUMNS,
    *LEAD_COLUMNS,
    *PREFERENCE_COLUMNS,
    *PREFERENCE_LIST_COLUMNS,
    *TIMELINE_COLUMNS,
    "tags",
)
REQUIRED_COLUMNS = ("first_name", "lead_type")

EXPORT_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "lead_type",
    "source",
    "status",
    "assigned_to",
    "score",
    "urgency_level",
    "financing_status",
    "target_move_date",
    "min_price",
    "max_price",
    "property_types",
    "preferred_locations",
    "min_bedrooms",
    "min_bathrooms",
    "tags",
    "created_at",
    "first_contacted_at",
    "last_contacted_at",
)
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
_FORMULA_START = ("=", "@", "\t", "\r")


@dataclass
class RowOutcome:
    created: bool = False
    duplicate_of: DuplicateMatch | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


# --- upload ----------------------------------------------------------------


def import_create(*, actor: User, file_name: str, content: bytes) -> LeadImport:
    """Check and store an uploaded CSV, then queue its import once this commits.

    Raises ValidationFailed (field ``file``) for a file that is too large, not UTF-8
    text, has no header with the required columns, or has no rows.
    """
    text = _decode(content)
    header, row_count = _inspect(text)
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ValidationFailed(fields={"file": [f"The header row lacks the required columns: {', '.join(missing)}."]})
    if "email" not in header and "phone" not in header:
        raise ValidationFailed(fields={"file": ["The header row needs an email or a phone column."]})
    if row_count == 0:
        raise ValidationFailed(fields={"file": ["The file has a header but no rows."]})
    if row_count > MAX_IMPORT_ROWS:
        raise ValidationFailed(
            fields={"file": [f"At most {MAX_IMPORT_ROWS:,} rows per file; this one has {row_count:,}."]}
        )

    with transaction.atomic():
        job = LeadImport.objects.create(
            created_by=actor, file_name=(file_name or "leads.csv")[:255], source_text=text, total_rows=row_count
        )
        from leads.tasks import enqueue_import  # tasks import this module

        job_id = job.pk
        transaction.on_commit(lambda: enqueue_import(job_id))
    return job


def _decode(content: bytes) -> str:
    if len(content) > MAX_IMPORT_BYTES:
        raise ValidationFailed(fields={"file": [f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB."]})
    if not content.strip():
        raise ValidationFailed(fields={"file": ["The file is empty."]})
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(fields={"file": ["Save the file as CSV with UTF-8 encoding."]}) from None
    if "\x00" in text:
        raise ValidationFailed(fields={"file": ["This is not a CSV text file."]})
    return text


def _inspect(text: str) -> tuple[list[str], int]:
    """The normalised header and the number of non-blank data rows."""
    try:
        reader = csv.reader(io.StringIO(text))
        header = [_column_name(name) for name in next(reader, [])]
        rows = sum(1 for row in reader if any(cell.strip() for cell in row))
    except csv.Error as exc:
        raise ValidationFailed(fields={"file": [f"This file is not valid CSV ({exc})."]}) from None
    return header, rows


def _column_name(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


# --- the import itself (run by leads.tasks) ---------------------------------


def run_import(*, import_id: int) -> None:
    """Import the job's rows; safe to call twice (only a queued job is started)."""
    claimed = LeadImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    job = LeadImport.objects.select_related("created_by").get(pk=import_id)
    try:
        _import_rows(job)
    except Exception as exc:  # any crash is logged and shown on the job's page
        logger.exception("Lead import %s failed", import_id)
        LeadImport.objects.filter(pk=import_id).update(
            status=ImportStatus.FAILED,
            failure_reason=f"The import stopped on an unexpected error ({type(exc).__name__}).",
            finished_at=timezone.now(),
        )


def _import_rows(job: LeadImport) -> None:
    actor = job.created_by
    service = LeadManagementService(actor, channel=AuditChannel.IMPORT)
    counts = {"processed_rows": 0, "created_count": 0, "duplicate_count": 0, "error_count": 0}
    row_errors: list[dict[str, Any]] = []

    for line_number, raw in _data_rows(job.source_text):
        outcome = import_row(service=service, raw=raw)
        counts["processed_rows"] += 1
        if outcome.created:
            counts["created_count"] += 1
        elif outcome.duplicate_of is not None:
            counts["duplicate_count"] += 1
            row_errors.append(_duplicate_entry(line_number, raw, outcome.duplicate_of))
        else:
            counts["error_count"] += 1
            row_errors.append({"row": line_number, "values": _shown_values(raw), "errors": outcome.errors})
        if counts["processed_rows"] % PROGRESS_EVERY_ROWS == 0:
            LeadImport.objects.filter(pk=job.pk).update(**counts)

    LeadImport.objects.filter(pk=job.pk).update(
        **counts, row_errors=row_errors, status=ImportStatus.DONE, finished_at=timezone.now()
    )


def _data_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number in the file, row keyed by normalised column name) for non-blank rows."""
    reader = csv.reader(io.StringIO(text))
    header = [_column_name(name) for name in next(reader, [])]
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, dict(zip(header, row, strict=False))


def import_row(*, service: LeadManagementService, raw: dict[str, str]) -> RowOutcome:
    """Validate one CSV row like an API create and create the lead, unless the team
    already has it. Earlier rows of the file are leads by then, so a repeat of one
    is a duplicate too."""
    serializer = LeadInput(data=row_payload(raw))
    if not serializer.is_valid():
        return RowOutcome(errors=flatten_errors(serializer.errors))
    try:
        service.create_lead(serializer.validated_data, reject_duplicates=True)
    except DuplicateLead as exc:
        return RowOutcome(duplicate_of=exc.match)
    except ApplicationError as exc:
        return RowOutcome(errors=exc.fields or {"row": [exc.message]})
    return RowOutcome(created=True)


def _duplicate_entry(line_number: int, raw: dict[str, str], match: DuplicateMatch) -> dict[str, Any]:
    """A skipped duplicate in ``LeadImport.row_errors``: why, and the existing lead's
    id when the uploader may see it."""
    return {
        "row": line_number,
        "values": _shown_values(raw),
        "errors": match.fields,
        "duplicate": True,
        "existing_lead_id": match.public_id if match.visible else "",
    }


def row_payload(raw: dict[str, str]) -> dict[str, Any]:
    """A CSV row as the nested body of POST /api/v2/leads; blank cells are left out."""

    def cell(name: str) -> str:
        value = raw.get(name)
        return value.strip() if isinstance(value, str) else ""

    contact: dict[str, Any] = {"first_name": cell("first_name")}
    contact.update({name: cell(name) for name in CONTACT_COLUMNS[1:] if cell(name)})
    contact.update({name: _boolean(cell(name)) for name in OPT_OUT_COLUMNS if cell(name)})
    payload: dict[str, Any] = {"contact": contact, "lead_type": cell("lead_type")}
    payload.update({name: cell(name) for name in LEAD_COLUMNS[1:] if cell(name)})
    preferences: dict[str, Any] = {name: cell(name) for name in PREFERENCE_COLUMNS if cell(name)}
    preferences.update({name: _split(cell(name)) for name in PREFERENCE_LIST_COLUMNS if cell(name)})
    timeline = {name: cell(name) for name in TIMELINE_COLUMNS if cell(name)}
    if preferences:
        payload["preferences"] = preferences
    if timeline:
        payload["timeline"] = timeline
    if cell("tags"):
        payload["tags"] = _split(cell("tags"))
    return payload


def _boolean(value: str) -> bool | str:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return value  # LeadInput answers "Must be true or false."


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]


def _shown_values(raw: dict[str, str]) -> dict[str, str]:
    """The row's known columns, trimmed, to show next to its errors."""
    return {name: str(raw.get(name) or "")[:200] for name in IMPORT_COLUMNS if raw.get(name)}


# --- CSV output -------------------------------------------------------------


def error_report_rows(job: LeadImport) -> Iterator[list[str]]:
    """The rows a finished import left out (errors and duplicates): line, reasons,
    the existing lead a duplicate matched (when the uploader may see it), then the
    row's values."""
    columns = [name for name in IMPORT_COLUMNS if any(name in item["values"] for item in job.row_errors)]
    yield ["row", "errors", "existing_lead_id", *columns]
    for item in job.row_errors:
        reasons = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in item["errors"].items())
        yield [
            str(item["row"]),
            reasons,
            item.get("existing_lead_id", ""),
            *(safe_cell(item["values"].get(name, "")) for name in columns),
        ]


def export_rows(leads: QuerySet[Lead]) -> Iterator[list[str]]:
    """The header and one row per lead, streamed in chunks (a constant number of
    queries per 2,000 leads)."""
    yield list(EXPORT_COLUMNS)
    rows = leads.select_related("contact", "preferences", "timeline", "assigned_to").iterator(chunk_size=2000)
    for lead in rows:
        yield [safe_cell(value) for value in _export_values(lead)]


def _export_values(lead: Lead) -> Iterable[object]:
    contact, preferences, timeline = lead.contact, lead.preferences, lead.timeline
    return (
        lead.public_id,
        contact.first_name,
        contact.last_name,
        contact.email,
        contact.phone,
        lead.lead_type,
        lead.source,
        lead.status,
        lead.assigned_to.username if lead.assigned_to else "",
        lead.score,
        timeline.urgency_level,
        timeline.financing_status,
        timeline.target_move_date.isoformat() if timeline.target_move_date else "",
        number(preferences.min_price),
        number(preferences.max_price),
        LIST_SEPARATOR.join(preferences.property_types),
        LIST_SEPARATOR.join(preferences.preferred_locations),
        preferences.min_bedrooms,
        number(preferences.min_bathrooms),
        LIST_SEPARATOR.join(str(tag) for tag in lead.tags),
        iso(lead.created_at),
        iso(lead.first_contacted_at),
        iso(lead.last_contacted_at),
    )


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: formulas get a leading apostrophe.

    Numbers and phone numbers such as +14155550100 are left as they are.
    """
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    if text.startswith(("+", "-")) and not _looks_numeric(text[1:]):
        return "'" + text
    return text


def _looks_numeric(text: str) -> bool:
    return bool(text) and all(ch.isdigit() or ch in " ().-" for ch in text)
