"""The Celery app. Broker and behaviour come from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")

app = Celery("leadmgmt", task_cls="leadmgmt.broker:BreakerTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _set_beat_schedule(sender, **kwargs):
    """Beat runs the jobs registered in integrations.periodic (one registry for beat and run_periodic)."""
    from integrations.periodic import beat_schedule

    sender.conf.beat_schedule = beat_schedule()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender=None, **kwargs):
    """A task is a worker's request: before and after it, Django's own rule for a request
    (close the database connections past CONN_MAX_AGE or left unusable, and health-check
    the others on their next use). Celery's Django fixup would close them after every
    task, paying a new PostgreSQL session per task; CELERY_DB_REUSE_MAX keeps it from that.
    An eager task runs inside its caller's request or transaction: left alone."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
