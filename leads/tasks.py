"""Background work of the agent pages: the CSV import."""

import logging
import threading

from celery import shared_task
from django.db import connections

from leads import imports

logger = logging.getLogger(__name__)


@shared_task(name="leads.import_leads", time_limit=60 * 60, soft_time_limit=55 * 60)
def import_leads(import_id: int) -> None:
    """Run one CSV import job; a second delivery of the same job does nothing."""
    imports.run_import(import_id=import_id)


def enqueue_import(import_id: int) -> None:
    """Start an import job after its upload has committed.

    With a broker the job goes to a Celery worker. On the embedded default
    (CELERY_TASK_ALWAYS_EAGER, no Redis) an eager task would block the upload's
    request until the whole file is done, so it runs in a thread instead and the
    page can show its progress meanwhile.
    """
    if import_leads.app.conf.task_always_eager:  # the app's live setting, not the settings file
        thread = threading.Thread(
            target=_run_in_thread, args=(import_id,), name=f"lead-import-{import_id}", daemon=True
        )
        thread.start()
    else:
        import_leads.delay(import_id)


def _run_in_thread(import_id: int) -> None:
    try:
        imports.run_import(import_id=import_id)
    finally:
        connections.close_all()
