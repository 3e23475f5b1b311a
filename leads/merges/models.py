"""Merges of duplicate leads, kept so each can be undone."""

import secrets

from django.db import models

from leads.accounts.models import User
from leads.core.models import Lead


def new_public_merge_id() -> str:
    return f"merge_{secrets.token_hex(12)}"


class LeadMerge(models.Model):
    """``duplicate`` merged into ``primary``. ``snapshot`` holds both leads as they
    were before (every part, and the ids of the rows moved) so the merge can be
    undone; ``primary_version``/``duplicate_version`` are the versions the merge left."""

    public_id = models.CharField(max_length=40, unique=True, default=new_public_merge_id, editable=False)
    primary = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merges")
    duplicate = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merged_away")
    merged_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField()
    prefer = models.JSONField(default=dict, blank=True)
    snapshot = models.JSONField()
    primary_version = models.PositiveIntegerField()
    duplicate_version = models.PositiveIntegerField()
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_id}: {self.duplicate_id} into {self.primary_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None
