"""The bodies of the list, history and batch answers: each declared once as a shape
(``leads.core.shapes``) beside the function that builds it. The views wrap them in the
envelope (``leads.api.envelope``); ``leads.api.schema`` documents them as
``LeadPage``, ``HistoryPage`` and ``BatchResult``."""

from rest_framework import serializers

from leads.api.envelope import FieldErrorsField
from leads.audit.history import HistoryPage
from leads.core.representations import AuditEntryShape, LeadShape, audit_entry_data, lead_data
from leads.core.services import BatchItemResult, LeadPage
from leads.core.shapes import Shape, choice, renders


class LeadPageBodyShape(Shape):
    leads = LeadShape(many=True)
    total_count = serializers.IntegerField(
        min_value=0, help_text="Every visible lead matching the filters, exact (not only this page)."
    )
    page = serializers.IntegerField(min_value=1, allow_null=True, help_text="Null when the page was read by cursor.")
    page_size = serializers.IntegerField(min_value=1)
    next_cursor = serializers.CharField(
        allow_null=True,
        help_text="Pass as `cursor` to read the next page (newest first); null on the last page and when the list "
        "is sorted by anything but the default order.",
    )


@renders(LeadPageBodyShape)
def lead_page_data(page: LeadPage) -> dict:
    return {
        "leads": [lead_data(lead) for lead in page.leads],
        "total_count": page.total_count,
        "page": page.page,
        "page_size": page.page_size,
        "next_cursor": page.next_cursor,
    }


class HistoryPageBodyShape(Shape):
    history = AuditEntryShape(many=True, help_text="Newest first.")
    total_count = serializers.IntegerField(min_value=0)
    page = serializers.IntegerField(min_value=1)
    page_size = serializers.IntegerField(min_value=1)


@renders(HistoryPageBodyShape)
def history_page_data(history: HistoryPage) -> dict:
    return {
        "history": [audit_entry_data(entry) for entry in history.entries],
        "total_count": history.total_count,
        "page": history.page,
        "page_size": history.page_size,
    }


# --- batch ------------------------------------------------------------------------

BATCH_STATUSES = (BatchItemResult.CREATED, BatchItemResult.DUPLICATE, BatchItemResult.ERROR)


class BatchItemShape(Shape):
    """One item's outcome; ``index`` is its position in the request."""

    index = serializers.IntegerField(min_value=0)
    status = choice(BATCH_STATUSES)
    lead_id = serializers.CharField(required=False, help_text="The new lead (created).")
    code = serializers.CharField(required=False, help_text="`validation_error`, `duplicate_lead`, ...")
    errors = FieldErrorsField(required=False)
    existing_lead_id = serializers.CharField(required=False, help_text="The lead a duplicate matches.")
    existing_lead_visible = serializers.BooleanField(required=False)


@renders(BatchItemShape)
def batch_item_data(index: int, outcome: BatchItemResult) -> dict:
    """The outcome of the request's item ``index``: only the keys that apply to it."""
    data = {"index": index, "status": outcome.status}
    if outcome.lead_id:
        data["lead_id"] = outcome.lead_id
    if outcome.code:
        data["code"] = outcome.code
    if outcome.errors:
        data["errors"] = outcome.errors
    if outcome.existing is not None:
        data["existing_lead_id"] = outcome.existing.public_id
        data["existing_lead_visible"] = outcome.existing.visible
    return data


class BatchCountsShape(Shape):
    created = serializers.IntegerField(min_value=0)
    duplicate = serializers.IntegerField(min_value=0)
    error = serializers.IntegerField(min_value=0)


class BatchResultBodyShape(Shape):
    results = BatchItemShape(many=True, help_text="One per item, in input order.")
    counts = BatchCountsShape()
    total_count = serializers.IntegerField(min_value=0)


@renders(BatchResultBodyShape)
def batch_result_data(items: list[dict]) -> dict:
    """The answer to a batch from its items' ``batch_item_data``, in input order, with the counts."""
    counts = dict.fromkeys(BATCH_STATUSES, 0)
    for item in items:
        counts[item["status"]] += 1
    return {"results": items, "counts": counts, "total_count": len(items)}
