"""Entry point of the after-save work (market analysis, scoring, CRM sync, workflows)."""


def schedule_lead_processing(*, lead_pk: int, version: int, reason: str) -> None:
    """Queue the after-save work for one lead version. Filled in by the pipeline issue."""
