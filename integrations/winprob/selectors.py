"""Reads: the model in use, the models' history, the open leads to score."""

from django.db.models import QuerySet

from integrations.winprob.models import ModelStatus, WinModel
from leads.models import Lead, LeadStatus

ENDED = (LeadStatus.CLOSED, LeadStatus.LOST)


def model_in_use() -> WinModel | None:
    return WinModel.objects.filter(status=ModelStatus.IN_USE).first()


def latest_model() -> WinModel | None:
    return WinModel.objects.order_by("-version").first()


def model_history(limit: int = 20) -> list[WinModel]:
    return list(WinModel.objects.defer("parameters").order_by("-version")[:limit])


def model_by_version(version: int) -> WinModel | None:
    return WinModel.objects.filter(version=version).first()


def open_leads() -> QuerySet[Lead]:
    """The leads that get a chance to close: not won, not lost, not merged, not archived."""
    return Lead.objects.filter(merged_into__isnull=True, archived_at__isnull=True).exclude(status__in=ENDED)
