"""CSV import and export of leads.

An import is a ``LeadImport`` job: the upload is checked and stored, then a worker
(``leads.imports.tasks``) runs it in chunks of ``IMPORT_CHUNK_ROWS`` rows. Each row is
validated by the rules of the API's ``LeadInput``, compiled once per import
(``leads.imports.rows.RowValidator``: the serializer's own fields per cell, a cell value
seen before not checked again, and ``LeadInput`` itself for a row they refuse, so its
errors are the API's), and each chunk is created through
``LeadManagementService.create_leads_batch`` (the batch API's path: bulk inserts,
one duplicate query), so a CSV row obeys exactly the rules of a POST to
/api/v2/leads. A row that duplicates a lead the team already has
(``leads.core.duplicates``: the same rule as the API), or an earlier row of the same
file, is skipped and listed in the report with the existing lead's id when the
uploader may see that lead.

The stored text is read back in slices and parsed as a stream, so a worker holds
one chunk of rows at a time. Each chunk commits together with the job's progress
(rows done, counts, listed errors); a worker that dies mid-file is redelivered
(acks_late) and resumes after the last committed chunk, so no row is created twice.
"""

import csv
import itertools
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from leads.accounts import permissions
from leads.core import selectors
from leads.core.duplicates import DuplicateMatch
from leads.core.inputs import AssigneeField
from leads.core.representations import iso, number
from leads.core.services import BatchItemResult, LeadManagementService
from leads.errors import ValidationFailed
from leads.imports.rows import (
    CONTACT_COLUMNS,
    LEAD_COLUMNS,
    LIST_SEPARATOR,
    OPT_OUT_COLUMNS,
    PREFERENCE_COLUMNS,
    PREFERENCE_LIST_COLUMNS,
    TIMELINE_COLUMNS,
    RowValidator,
)
from leads.models import AuditChannel, ImportStatus, Lead, LeadImport, User

logger = logging.getLogger(__name__)

READ_SLICE_CHARS = 1 << 20  # the stored text is read back 1M characters at a time

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
_FORMULA_START = ("=", "@", "\t", "\r")


def max_import_bytes() -> int:
    return settings.IMPORT_MAX_BYTES


def max_import_rows() -> int:
    return settings.IMPORT_MAX_ROWS


# --- upload ----------------------------------------------------------------


def import_create(*, actor: User, file_name: str, content: bytes, route_unassigned: bool = False) -> LeadImport:
    """Check and store an uploaded CSV as a queued import job (``leads.imports.tasks.start_import``
    also queues it to run).

    Raises ValidationFailed (field ``file``) for a file that is too large (bytes or
    rows: ``IMPORT_MAX_BYTES``, ``IMPORT_MAX_ROWS``), not UTF-8 text, not CSV, has
    no header with the required columns, or has no rows; PermissionDenied for a user
    who may not import (``permissions.can_import_leads``). With ``route_unassigned`` the
    rows that name no agent are routed by the routing rules (their ``lead.created``
    events say ``"route": true``), as leads created through the API are.
    """
    permissions.require(permissions.can_import_leads, actor)
    text = _decode(content)
    header, row_count = _inspect(text)
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ValidationFailed(fields={"file": [f"The header row lacks the required columns: {', '.join(missing)}."]})
    if "email" not in header and "phone" not in header:
        raise ValidationFailed(fields={"file": ["The header row needs an email or a phone column."]})
    if row_count == 0:
        raise ValidationFailed(fields={"file": ["The file has a header but no rows."]})
    if row_count > max_import_rows():
        raise ValidationFailed(
            fields={"file": [f"At most {max_import_rows():,} rows per file; this one has {row_count:,}."]}
        )

    return LeadImport.objects.create(
        created_by=actor,
        file_name=(file_name or "leads.csv")[:255],
        source_text=text,
        total_rows=row_count,
        route_unassigned=route_unassigned,
    )


def _decode(content: bytes) -> str:
    if len(content) > max_import_bytes():
        raise ValidationFailed(fields={"file": [f"The file is larger than {_megabytes(max_import_bytes())}."]})
    if not content.strip():
        raise ValidationFailed(fields={"file": ["The file is empty."]})
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(fields={"file": ["Save the file as CSV with UTF-8 encoding."]}) from None
    if "\x00" in text:
        raise ValidationFailed(fields={"file": ["This is not a CSV text file."]})
    return text


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


def _inspect(text: str) -> tuple[list[str], int]:
    """The normalised header and the number of non-blank data rows."""
    try:
        reader = csv.reader(_lines([text]))
        header = [_column_name(name) for name in next(reader, [])]
        rows = sum(1 for row in reader if any(cell.strip() for cell in row))
    except csv.Error as exc:
        raise ValidationFailed(fields={"file": [f"This file is not valid CSV ({exc})."]}) from None
    return header, rows


def _column_name(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _lines(pieces: Iterable[str]) -> Iterator[str]:
    """The lines (with their line ends) of text given in pieces, as csv.reader reads
    them from a file; unlike io.StringIO, no copy of the whole text is made."""
    pending = ""
    for piece in pieces:
        pending += piece
        start = 0
        while (end := pending.find("\n", start)) != -1:
            yield pending[start : end + 1]
            start = end + 1
        pending = pending[start:]
    if pending:
        yield pending


# --- the import itself (run by leads.imports.tasks) ---------------------------------


def run_import(*, import_id: int) -> None:
    """Import the job's rows, or the rest of them.

    A queued job is started; a running one is resumed after its last committed
    chunk (the redelivery of a task whose worker died). A second delivery while the
    first still runs is harmless: each chunk checks, under the job's row lock, that
    the job is still where this worker left it, and the one that finds otherwise stops.
    """
    claimed = LeadImport.objects.filter(pk=import_id, status__in=(ImportStatus.QUEUED, ImportStatus.RUNNING)).update(
        status=ImportStatus.RUNNING
    )
    if not claimed:
        return
    LeadImport.objects.filter(pk=import_id, started_at__isnull=True).update(started_at=timezone.now())
    job = LeadImport.objects.select_related("created_by").defer("source_text").get(pk=import_id)
    try:
        _import_rows(job)
    except Exception as exc:  # any crash is logged and shown on the job's page
        logger.exception("Lead import %s failed", import_id)
        LeadImport.objects.filter(pk=import_id).update(
            status=ImportStatus.FAILED,
            failure_reason=f"The import stopped on an unexpected error ({type(exc).__name__}).",
            finished_at=timezone.now(),
        )


class _Progress:
    """A job's committed progress, carried from chunk to chunk by one worker."""

    COUNTS = ("processed_rows", "created_count", "duplicate_count", "error_count")

    def __init__(self, job: LeadImport):
        self.job_pk = job.pk
        self.counts = {name: getattr(job, name) for name in self.COUNTS}
        self.row_errors: list[dict[str, Any]] = list(job.row_errors)
        self.listed_limit = settings.IMPORT_MAX_LISTED_ERRORS

    @property
    def done(self) -> int:
        return self.counts["processed_rows"]

    def still_ours(self) -> bool:
        """Lock the job's row until this chunk commits; False if it moved on without
        this worker (another delivery of the task took it over) or stopped."""
        current = (
            LeadImport.objects.select_for_update()
            .filter(pk=self.job_pk)
            .values_list("status", "processed_rows")
            .first()
        )
        return current == (ImportStatus.RUNNING, self.done)

    def add(self, rows: int, created: int, left_out: list[dict[str, Any]]) -> None:
        """Record a chunk, in its transaction."""
        duplicates = sum(1 for item in left_out if item.get("duplicate"))
        self.counts["processed_rows"] += rows
        self.counts["created_count"] += created
        self.counts["duplicate_count"] += duplicates
        self.counts["error_count"] += len(left_out) - duplicates
        listed = left_out[: max(0, self.listed_limit - len(self.row_errors))]
        self.row_errors.extend(listed)
        extra = {"row_errors": self.row_errors} if listed else {}
        LeadImport.objects.filter(pk=self.job_pk).update(**self.counts, **extra)


def _import_rows(job: LeadImport) -> None:
    service = LeadManagementService(job.created_by, channel=AuditChannel.IMPORT)
    chunk_rows = settings.IMPORT_CHUNK_ROWS
    progress = _Progress(job)
    assignees = _AssigneeCache()
    validator = RowValidator()  # compiled once for the whole import
    rows = itertools.islice(_data_rows(_stored_text(job.pk)), progress.done, None)
    while chunk := list(itertools.islice(rows, chunk_rows)):
        with transaction.atomic():
            if not progress.still_ours():
                logger.info("Lead import %s: another worker has it; this one stops", job.pk)
                return
            created, left_out = import_chunk(
                service=service,
                rows=chunk,
                assignees=assignees,
                route_unassigned=job.route_unassigned,
                validator=validator,
            )
            progress.add(len(chunk), created, left_out)
    LeadImport.objects.filter(pk=job.pk, status=ImportStatus.RUNNING, processed_rows=progress.done).update(
        status=ImportStatus.DONE, finished_at=timezone.now()
    )


def _stored_text(import_id: int) -> Iterator[str]:
    """The job's stored CSV text, read from the database in slices."""
    position = 1  # SQL SUBSTR counts from 1
    while True:
        piece = (
            LeadImport.objects.filter(pk=import_id)
            .annotate(piece=Substr("source_text", position, READ_SLICE_CHARS))
            .values_list("piece", flat=True)
            .get()
        )
        if not piece:
            return
        yield piece
        position += len(piece)


def _data_rows(pieces: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number in the file, row keyed by normalised column name) for non-blank rows."""
    reader = csv.reader(_lines(pieces))
    header = [_column_name(name) for name in next(reader, [])]
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, dict(zip(header, row, strict=False))


def import_chunk(
    *,
    service: LeadManagementService,
    rows: list[tuple[int, dict[str, str]]],
    assignees: "_AssigneeCache",
    route_unassigned: bool = False,
    validator: RowValidator | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Validate rows like API creates and create the good ones in one batch, unless
    the team already has them (earlier chunks' leads included). Returns how many
    leads were created and the report entries of the rows left out, in file order."""
    validator = validator or RowValidator()
    valid: list[tuple[int, dict[str, str], dict[str, Any]]] = []
    left_out: dict[int, dict[str, Any]] = {}
    for line_number, raw in rows:
        data, errors = validator.validate(raw)
        assignee_name = (raw.get("assigned_to") or "").strip() or None
        if assignee_name is not None:
            assignee = assignees.get(assignee_name)
            if assignee is None:
                errors["assigned_to"] = [AssigneeField.default_error_messages["unknown"]]
            elif not errors:
                data["assigned_to"] = assignee
        if errors:
            left_out[line_number] = {"row": line_number, "values": _shown_values(raw), "errors": errors}
        else:
            valid.append((line_number, raw, data))

    created_data = {"route": True} if route_unassigned else None
    outcomes = service.create_leads_batch([data for _, _, data in valid], created_data=created_data) if valid else []
    created = 0
    for (line_number, raw, _), outcome in zip(valid, outcomes, strict=True):
        if outcome.status == BatchItemResult.CREATED:
            created += 1
        elif outcome.status == BatchItemResult.DUPLICATE:
            left_out[line_number] = _duplicate_entry(line_number, raw, outcome.existing)
        else:  # a rule the service checks (a way to reach the lead, prices, assignee)
            errors = {"row" if name == "body" else name: messages for name, messages in outcome.errors.items()}
            left_out[line_number] = {"row": line_number, "values": _shown_values(raw), "errors": errors}
    return created, [left_out[line_number] for line_number in sorted(left_out)]


class _AssigneeCache:
    """``assigned_to`` cells resolved like the API's AssigneeField (a username or id
    of an active user), one query per distinct value for the whole import."""

    MAX_KEPT = 1000

    def __init__(self):
        self._users: dict[str, User | None] = {}

    def get(self, value: str) -> User | None:
        if value not in self._users:
            if len(self._users) >= self.MAX_KEPT:  # a file of made-up names: keep memory flat
                self._users.clear()
            self._users[value] = selectors.agent_get(identifier=value) if len(value) <= 150 else None
        return self._users[value]


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
            safe_cell(reasons),
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
