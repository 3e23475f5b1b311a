"""What the API keeps between requests: the answers to Idempotency-Key retries."""

from django.db import models

from leads.accounts.models import User


class IdempotencyRecord(models.Model):
    """The first answer to a create sent with an ``Idempotency-Key``, replayed to retries.

    ``request_hash`` is the SHA-256 of the method, the path and the canonical JSON
    body; a retry must match it. ``response_status`` is null while the first request
    is still running (see ``leads.api.idempotency``).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_method = models.CharField(max_length=8)
    request_path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} ({self.request_method} {self.request_path})"
