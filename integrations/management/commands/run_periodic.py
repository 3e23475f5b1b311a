"""Runs the periodic jobs in a loop, for a single machine without Celery beat."""

import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from integrations import periodic


class Command(BaseCommand):
    help = "Run the periodic jobs (pipeline sweep, CRM retries, rescoring, SLA checks) on their schedule."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every job once and exit.")
        parser.add_argument("--tick", type=float, default=5.0, help="Seconds between schedule checks.")

    def handle(self, *args, once: bool, tick: float, **options):
        last_run = {}
        while True:
            now = timezone.now()
            for name, job in periodic.JOBS.items():
                if once or now - last_run.get(name, now - job.every) >= job.every:
                    last_run[name] = now
                    try:
                        result = periodic.run(name)
                        self.stdout.write(f"{now:%H:%M:%S} {name}: {result}")
                    except Exception as exc:  # one failing job must not stop the others
                        self.stderr.write(f"{now:%H:%M:%S} {name} failed: {exc}")
            if once:
                return
            time.sleep(tick)
