"""Background work of the agent pages: the CSV import."""

import logging
import threading
from functools import partial

from celery import shared_task
from django.db import connections, transaction

from leadmgmt.broker import send_or_leave
from leads.imports import services as imports
from leads.models import LeadImport, User

logger = logging.getLogger(__name__)


@shared_task(name="leads.import_leads", acks_late=True, time_limit=60 * 60, soft_time_limit=55 * 60)
def import_leads(import_id: int) -> None:
    """Run one CSV import job. Acknowledged once done: if the worker dies mid-file the
    broker delivers the task again and the import resumes after its last committed
    chunk; a delivery of a finished job does nothing."""
    imports.run_import(import_id=import_id)


def start_import(*, actor: User, file_name: str, content: bytes, route_unassigned: bool = False) -> LeadImport:
    """Check and store an uploaded CSV (``imports.import_create``) and queue its import
    once that commits."""
    with transaction.atomic():
        job = imports.import_create(
            actor=actor, file_name=file_name, content=content, route_unassigned=route_unassigned
        )
        transaction.on_commit(partial(enqueue_import, job.pk))
    return job


def enqueue_import(import_id: int) -> None:
    """Start an import job after its upload has committed.

    With a broker the job goes to a Celery worker. On the embedded default
    (CELERY_TASK_ALWAYS_EAGER, no Redis) an eager task would block the upload's
    request until the whole file is done, so it runs in a thread instead and the
    page can show its progress meanwhile.
    """
    # The upload is stored: if the broker refuses the task, run it here rather than fail the request.
    if not import_leads.app.conf.task_always_eager and send_or_leave(  # the app's live setting
        import_leads, import_id, left_for="a thread of the web process"
    ):
        return
    thread = threading.Thread(target=_run_in_thread, args=(import_id,), name=f"lead-import-{import_id}", daemon=True)
    thread.start()


def _run_in_thread(import_id: int) -> None:
    try:
        imports.run_import(import_id=import_id)
    finally:
        connections.close_all()
