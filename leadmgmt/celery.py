"""The Celery app. Broker and behaviour come from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")

app = Celery("leadmgmt", task_cls="leadmgmt.broker:BreakerTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _set_beat_schedule(sender, **kwargs):
    """Beat runs the jobs registered in integrations.periodic (one registry for beat and run_periodic)."""
    from integrations.periodic import beat_schedule

    sender.conf.beat_schedule = beat_schedule()
