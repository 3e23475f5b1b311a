"""One delivery outbox for every outbound integration: CRM sync and webhooks today,
the push, SMS and plan-step deliveries to come.

A delivery is a row (a model built on ``OutboxRow``) that says what to send and how
sending it went. Its life cycle, the same for every kind (``Outbox``):

- whoever makes or re-arms a row sets ``next_attempt_at`` to ``now + requeue_after``
  (``requeue_time``) and queues it once that commits (``queue_after_commit``);
- an attempt ``claim``s the row in a short transaction (SKIP LOCKED): nothing is sent
  when it is done, dead, in flight or held by the kind's own rule (a paused
  subscription, an unconfigured target, an earlier delivery still on its way); a row
  out of attempts is dead. The claim counts the attempt and holds the row
  (``claimed_until``) while it is sent, outside any transaction;
- its result is written only if the claim still stands (``settle``): a replay made
  while it was in flight clears the claim and wins;
- ``sweep`` queues every row whose ``next_attempt_at`` has passed: a failed try's
  backoff, or a message lost with a worker. Delivery is therefore at least once.

Sending is the kinds' own (their ``tasks`` modules pass their Celery task to
``dispatch``, ``queue_after_commit`` and ``sweep``).
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from django.conf import settings
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from integrations import http_delivery
from leadmgmt.broker import send_or_leave

logger = logging.getLogger(__name__)


class OutboxRow(models.Model):
    """The delivery state every outbox row carries (its ``status`` is the kind's own)."""

    attempts = models.PositiveSmallIntegerField(default=0, help_text="Tries since it was armed or last replayed.")
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweeper queues it (again); empty when nothing is due."
    )
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A try is in flight until then; a crashed one expires."
    )

    class Meta:
        abstract = True


class Outcome(StrEnum):
    """What one attempt at a delivery came to."""

    SENT = "sent"  # the target took it
    FAILED = "failed"  # a transient failure; tried again after a backoff
    DEAD = "dead"  # rejected, refused or out of attempts; only a replay (or a newer version) revives it
    NOTHING_TO_SEND = "nothing_to_send"  # delivered already, or the target has it: nothing sent
    BUSY = "busy"  # another attempt is in flight: nothing sent
    HELD = "held"  # the kind's own rule holds it back for now (paused, not configured, waiting its turn)
    MISSING = "missing"  # no such row (deleted with its lead or subscription)


@dataclass(frozen=True)
class Outbox:
    """One kind of delivery: its model and status values, and the ``<prefix>_MAX_ATTEMPTS``,
    ``_BACKOFF_SECONDS``, ``_BACKOFF_MAX_SECONDS`` and ``_REQUEUE_AFTER_SECONDS`` settings."""

    model: type[OutboxRow]
    label: str  # for logs: "CRM sync record", "webhook delivery"
    settings_prefix: str
    pending: str
    failed: str
    dead: str
    related: tuple[str, ...] = ()

    def setting(self, name: str):
        return getattr(settings, f"{self.settings_prefix}_{name}")

    def requeue_time(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.setting("REQUEUE_AFTER_SECONDS"))

    def backoff_delay(self, attempts: int, *, retry_after: int | None = None) -> timedelta:
        """How long to wait after the ``attempts``-th failed try (``http_delivery.backoff_delay``)."""
        return http_delivery.backoff_delay(
            attempts,
            base_seconds=self.setting("BACKOFF_SECONDS"),
            max_seconds=self.setting("BACKOFF_MAX_SECONDS"),
            retry_after=retry_after,
        )

    # --- an attempt -------------------------------------------------------------------

    def claim(
        self,
        row_id: int,
        *,
        is_done: Callable[[OutboxRow], bool] = lambda row: False,
        is_held: Callable[[OutboxRow], bool] = lambda row: False,
    ) -> OutboxRow | Outcome:
        """Take the row for one attempt, or say why nothing is to be sent now."""
        now = timezone.now()
        with transaction.atomic():
            row = (
                self.model.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related(*self.related)
                .filter(pk=row_id)
                .first()
            )
            if row is None:
                return Outcome.BUSY if self.model.objects.filter(pk=row_id).exists() else Outcome.MISSING
            if is_done(row):
                return Outcome.NOTHING_TO_SEND
            if row.status == self.dead:
                return Outcome.DEAD
            if row.claimed_until and row.claimed_until > now:
                return Outcome.BUSY
            if is_held(row):
                return Outcome.HELD
            if row.attempts >= self.setting("MAX_ATTEMPTS"):
                # Only attempts that never reported back (a killed worker) get here.
                row.status, row.next_attempt_at, row.claimed_until = self.dead, None, None
                row.last_error = f"Gave up after {row.attempts} attempts; the last did not finish. {row.last_error}"
                row.save()
                return Outcome.DEAD
            row.attempts += 1
            row.last_attempt_at = now
            row.claimed_until = row.next_attempt_at = self.requeue_time(now)
            row.save(update_fields=_fields(row, "attempts", "last_attempt_at", "claimed_until", "next_attempt_at"))
        return row

    @contextmanager
    def settle(self, claimed: OutboxRow) -> Iterator[OutboxRow | None]:
        """The row locked for recording an attempt's result, if the attempt's claim still
        stands (None when a replay or a deletion came first: nothing is recorded). Change
        it in the block; it is saved with its claim cleared."""
        with transaction.atomic():
            current = (
                self.model.objects.select_for_update(of=("self",))
                .filter(pk=claimed.pk, claimed_until=claimed.claimed_until)
                .first()
            )
            yield current
            if current is not None:
                current.claimed_until = None
                current.save()

    def record_failure(
        self, claimed: OutboxRow, error: http_delivery.DeliveryError, *, dead: bool | None = None, **fields
    ) -> Outcome:
        """A failed attempt: dead when ``error`` is permanent or it was the last allowed
        attempt (or as ``dead`` says), else tried again after a backoff."""
        now = timezone.now()
        dead = dead if dead is not None else (not error.transient or claimed.attempts >= self.setting("MAX_ATTEMPTS"))
        with self.settle(claimed) as row:
            if row is not None:
                row.status = self.dead if dead else self.failed
                row.last_error = str(error)
                row.next_attempt_at = (
                    None if dead else now + self.backoff_delay(row.attempts, retry_after=error.retry_after)
                )
                for name, value in fields.items():
                    setattr(row, name, value)
        logger.warning(
            "%s %s %s after %s attempt(s)%s: %s",
            self.label,
            claimed.pk,
            "dead" if dead else "failed",
            claimed.attempts,
            "" if row is not None else " (not recorded: replayed or deleted meanwhile)",
            str(error)[:200],
        )
        return Outcome.DEAD if dead else Outcome.FAILED

    def rearm(self, rows: QuerySet, *, now: datetime | None = None, **fields) -> list[int]:
        """Make ``rows`` pending again from zero attempts, their claims dropped (a replay);
        returns their ids, to queue once this commits."""
        now = now or timezone.now()
        ids = list(rows.values_list("pk", flat=True))
        self.model.objects.filter(pk__in=ids).update(
            status=self.pending,
            attempts=0,
            claimed_until=None,
            next_attempt_at=self.requeue_time(now),
            updated_at=now,
            **fields,
        )
        return ids

    # --- queueing -----------------------------------------------------------------------

    def dispatch(self, task, row_id: int) -> bool:
        """Queue ``task(row_id)``; False when the broker is unreachable: the row is then due
        at once, for the next sweep."""
        if send_or_leave(task, row_id, left_for=f"the {self.label} sweep"):
            return True
        self.model.objects.filter(pk=row_id).update(next_attempt_at=timezone.now())
        return False

    def queue_after_commit(self, task, row_ids: Iterable[int]) -> None:
        """Queue ``task`` for each row once the current transaction commits."""
        for row_id in row_ids:
            transaction.on_commit(partial(self.dispatch, task, row_id))

    def sweep(self, task, due: QuerySet, *, now: datetime | None = None, limit: int = 500) -> int:
        """Queue each row of ``due`` (rows whose ``next_attempt_at`` has passed, oldest
        first) after moving its next attempt on, so a second sweep skips it; stops at the
        first broker failure, leaving the rest due. Returns how many were queued."""
        now = now or timezone.now()
        queued = 0
        for row_id in due.values_list("pk", flat=True)[:limit]:
            taken = self.model.objects.filter(pk=row_id, next_attempt_at__lte=now).update(
                next_attempt_at=self.requeue_time(now), updated_at=now
            )
            if not taken:
                continue  # another sweep took it
            if not self.dispatch(task, row_id):
                break
            queued += 1
        return queued


def _fields(row: models.Model, *names: str) -> list[str]:
    """``names`` plus ``updated_at`` when the model has one (``update_fields`` skips auto_now otherwise)."""
    has_updated_at = any(field.name == "updated_at" for field in row._meta.concrete_fields)
    return [*names, "updated_at"] if has_updated_at else list(names)
