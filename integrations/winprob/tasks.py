"""Thin Celery tasks: training (nightly and on demand) and scoring. Scoring a lead after
its save only reads the stored model, so it never waits for a training run."""

from functools import partial

from celery import shared_task
from django.db import transaction

from integrations.winprob import services, training
from leadmgmt.broker import send_or_leave
from leads.events.models import LeadEvent

BATCH = 500


def on_lead_events(events: list[LeadEvent]) -> None:
    """The subscription (``leads.events``): rescore the saved leads once the relay commits."""
    pks = sorted({event.lead_id for event in events})
    if pks:
        transaction.on_commit(partial(dispatch, pks))


def dispatch(lead_pks: list[int]) -> None:
    for start in range(0, len(lead_pks), BATCH):
        send_or_leave(predict_leads, lead_pks[start : start + BATCH], left_for="the nightly scoring")


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def predict_leads(lead_pks: list[int]) -> int:
    return services.predict_leads(lead_pks=lead_pks)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=3600, time_limit=3700)
def predict_open_leads() -> int:
    return services.predict_open_leads()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=3600, time_limit=3700)
def train_and_score() -> str:
    """Train a new version; then score every open lead (with the new model if it is in
    use, else with the one that stays) so decaying figures such as recency stay fresh."""
    record = training.train_model()
    services.predict_open_leads()
    return f"v{record.version}: {record.get_status_display()}"


def train_nightly(now=None) -> bool:
    """The periodic job (every 24 hours): send the training to a worker; False when the
    broker is unreachable (tomorrow's run tries again)."""
    return send_or_leave(train_and_score, left_for="the next nightly run")


def rescore_after_rollback() -> None:
    transaction.on_commit(lambda: send_or_leave(predict_open_leads, left_for="the nightly scoring"))
