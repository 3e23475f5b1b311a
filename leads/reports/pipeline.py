"""The pipeline's stages in order, and a status's rank in it (what the funnel counts
and ``Lead.furthest_stage`` holds): lost, nurture and unknown statuses rank 0 (new)."""

from leads.core.models import LeadStatus

PIPELINE = [
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.UNDER_CONTRACT,
    LeadStatus.CLOSED,
]
RANK = {status.value: index for index, status in enumerate(PIPELINE)}


def rank(status: str) -> int:
    return RANK.get(status, 0)


def rank_sql(column: str) -> str:
    """``rank`` of ``column`` in SQL (only constants interpolated)."""
    cases = " ".join(f"WHEN '{status}' THEN {index}" for status, index in RANK.items())
    return f"CASE {column} {cases} ELSE 0 END"
