"""Sending a Celery message when the broker may be down: the one fallback every
dispatcher uses.

Work is always recorded in the database first (an outbox row: a lead event, a
pipeline job, a delivery), so a message the broker refuses loses nothing: the row
stays due and its sweeper queues it again. Sending therefore never raises for an
unreachable broker; it says False and logs what was left behind.
"""

import logging

from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

# What an unreachable or dropped broker raises while publishing.
BROKER_ERRORS = (BrokerError, OSError)


def send_or_leave(task, *args, countdown: float | None = None, left_for: str) -> bool:
    """``task.apply_async(args)`` without the publisher's own retries; False, logged,
    when the broker is unreachable (the work is then ``left_for`` its sweeper)."""
    try:
        task.apply_async(args=list(args), countdown=countdown, retry=False)
    except BROKER_ERRORS as error:
        logger.warning("Broker unreachable, %s%r left for %s: %s", task.name, _short(args), left_for, error)
        return False
    return True


def _short(args: tuple) -> str:
    text = repr(args)
    return text if len(text) <= 200 else text[:197] + "..."
