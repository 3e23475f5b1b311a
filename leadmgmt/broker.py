"""The Celery broker (Redis) when it goes away: the worker survives, publishers fail fast.

**The worker survives.** kombu 5.7's Redis transport can kill a worker that loses
Redis while a task with ``acks_late`` is running. Celery cleans up the broken
connection in two steps: ``collect()`` closes its channels and detaches the transport
(its ``client`` becomes None), then ``close()``. When a channel with a BRPOP in flight
fails to close, the other channels are left open, among them the one holding the
running task's unacknowledged message; ``close()`` then closes it, and putting that
message back builds a connection pool from the detached transport:
``AttributeError: 'NoneType' object has no attribute 'hostname'`` escapes
``ignore_errors``, and the worker logs "Unrecoverable error" and exits. ``Transport``
reports that case as a connection error instead, which Celery ignores while it
reconnects; the message is redelivered by Redis (visibility timeout) or, if Redis lost
it, re-sent by the pipeline sweeper. Selected by ``CELERY_BROKER_TRANSPORT`` in settings;
``leadmgmt/tests/test_broker.py`` reproduces the defect with kombu's own transport.

**Publishers fail fast.** ``BreakerTask`` is the base class of every task: while the
broker's circuit is open (``leadmgmt.redis_breaker``; a publish failed less than
REDIS_CIRCUIT_OPEN_SECONDS ago) ``apply_async`` raises kombu's ``OperationalError``
at once instead of waiting on Redis again.

**Nothing is lost.** Work is always recorded in the database first (an outbox row: a
lead event, a pipeline job, a delivery), so a message the broker refuses loses
nothing: ``send_or_leave``, the one fallback every dispatcher uses, says False and
logs what was left behind, the row stays due and its sweeper queues it again.
"""

import logging

from celery import Task
from django.conf import settings
from kombu.exceptions import OperationalError
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

from leadmgmt.redis_breaker import UNREACHABLE_ERRORS, CircuitBreaker, breaker_for

logger = logging.getLogger(__name__)

# What an unreachable or dropped broker raises while publishing.
BROKER_ERRORS = (OperationalError, OSError)


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:  # the transport was detached from its connection (see above)
            raise RedisConnectionError("The broker connection of this channel is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


def broker_breaker(app) -> CircuitBreaker:
    """The process's circuit breaker for publishing to ``app``'s broker."""
    return breaker_for(f"Celery broker {app.conf.broker_url}", open_seconds=settings.REDIS_CIRCUIT_OPEN_SECONDS)


class BreakerTask(Task):
    """A Celery task whose publish skips the broker while its circuit is open."""

    def apply_async(self, *args, **kwargs):
        if self.app.conf.task_always_eager:  # runs here: no broker involved
            return super().apply_async(*args, **kwargs)
        breaker = broker_breaker(self.app)
        if not breaker.allows():
            raise OperationalError(f"Not sent: the broker was unreachable less than {breaker.open_seconds:g} s ago")
        try:
            result = super().apply_async(*args, **kwargs)
        except (OperationalError, *UNREACHABLE_ERRORS) as error:
            breaker.failed(error)
            raise
        breaker.succeeded()
        return result


def send_or_leave(task, *args, countdown: float | None = None, priority: int | None = None, left_for: str) -> bool:
    """``task.apply_async(args)`` without the publisher's own retries (at ``priority``,
    else the task's own); False, logged, when the broker is unreachable (the work is then
    ``left_for`` its sweeper)."""
    options = {} if priority is None else {"priority": priority}
    try:
        task.apply_async(args=list(args), countdown=countdown, retry=False, **options)
    except BROKER_ERRORS as error:
        logger.warning("Broker unreachable, %s%r left for %s: %s", task.name, _short(args), left_for, error)
        return False
    return True


def _short(args: tuple) -> str:
    text = repr(args)
    return text if len(text) <= 200 else text[:197] + "..."


def route_by_priority(name, args, kwargs, options, task=None, **extra):
    """Celery router (``CELERY_TASK_ROUTES`` when ``CELERY_URGENT_QUEUE`` is set): a task
    sent at ``URGENT_TASK_PRIORITY`` goes to the urgent queue; others take the default."""
    priority = options.get("priority")
    if priority is None and task is not None:
        priority = getattr(task, "priority", None)
    if priority == settings.URGENT_TASK_PRIORITY:
        return {"queue": settings.CELERY_URGENT_QUEUE}
    return None
