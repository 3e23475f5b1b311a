"""The v2 envelope: every response carries ``metadata`` and ``processing_time``."""

import time

API_METADATA = {"source": "crm", "version": "2.0"}


def mark_request_start(request) -> None:
    if not hasattr(request, "_leads_started_at"):
        request._leads_started_at = time.perf_counter()


def processing_time(request) -> float:
    started = getattr(request, "_leads_started_at", None)
    if started is None:
        return 0.0
    return round(time.perf_counter() - started, 6)


def envelope(request, **body) -> dict:
    return {**body, "metadata": dict(API_METADATA), "processing_time": processing_time(request)}


def error_body(request, *, code: str, message: str, fields: dict | None = None, details: dict | None = None) -> dict:
    """The error object; ``details`` are error-specific keys beside code and message
    (e.g. ``existing_lead_id`` of a duplicate_lead)."""
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    if details:
        error.update(details)
    return envelope(request, error=error)
