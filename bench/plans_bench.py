"""Follow-up plans at scale (issue 12): N leads enrolled with a step due in the same
minute, two Celery worker processes, a loopback SMTP server counting what arrives.

    .venv/bin/python -m bench.plans_bench --leads 100000

Needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432 as postgres; the bench creates and
drops the database ``--db-name``) and Redis (REDIS_URL or 127.0.0.1:6379, db
``--redis-db``). Prints and writes artifacts/bench/plans-<N>.json: seconds until every
email arrived, messages per second, enrolments whose email the SMTP server received
twice or more (counted at the server by the X-Plan-Enrolment header: must be 0), the
workers' memory (RSS) at the start, peak and end, and the load average. A driver
process plays beat: run_plan_steps and sweep_plan_deliveries every 2 seconds.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")
import django  # noqa: E402

django.setup()  # the process helpers are the tests' (they import the project's conftest)

from leadmgmt.tests.processes import PYTHON, Stack, free_port  # noqa: E402

LOAD = """
import uuid
from django.utils import timezone
from integrations.plans.models import Enrolment, Plan
from leads.models import Contact, Lead, Preferences, Timeline, User
agent = User.objects.create(username="bench_plans_agent", email="agent@bench.example.com")
plan = Plan.objects.create(name="Bench", is_active=True)
plan.steps.create(position=10, kind="send_email", subject="Hi {{{{ first_name }}}}", body="Hello {{{{ first_name }}}}")
now = timezone.now()
for start in range(0, {n}, 5000):
    leads = Lead.objects.bulk_create(
        [Lead(lead_type="buyer", source="website", assigned_to=agent) for _ in range(start, min(start + 5000, {n}))]
    )
    Contact.objects.bulk_create(
        [Contact(lead=lead, first_name=f"L{{lead.pk}}", email=f"lead{{lead.pk}}@bench.example.com") for lead in leads]
    )
    Preferences.objects.bulk_create([Preferences(lead=lead) for lead in leads])
    Timeline.objects.bulk_create([Timeline(lead=lead) for lead in leads])
    Enrolment.objects.bulk_create(
        [Enrolment(lead=lead, plan=plan, next_position=10, next_due_at=now, reason="bench", started_at=now)
         for lead in leads]
    )
print(Enrolment.objects.count())
"""

DRIVE = """
import time
from integrations.plans.tasks import run_due_steps, sweep_plan_deliveries
while True:
    run_due_steps()
    sweep_plan_deliveries()
    time.sleep(2)
"""


ENROLMENT_HEADER = re.compile(rb"^X-Plan-Enrolment: *(\d+)", re.MULTILINE | re.IGNORECASE)


class CountingInbox:
    """Counts the messages received per enrolment (its X-Plan-Enrolment header)."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.messages = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        head = envelope.original_content.split(b"\r\n\r\n", 1)[0]
        found = ENROLMENT_HEADER.search(head)
        with self.lock:
            self.messages += 1
            self.counts[int(found.group(1)) if found else 0] += 1
        return "250 OK"


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (its own, /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_rss(pid: int) -> int:
    """RSS of the worker and its children (the prefork pool), KiB."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(child) for child in children.read_text().split()] if children.exists() else []
    return rss_kib(pid) + sum(rss_kib(kid) for kid in kids)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--db-name", default="leadmgmt_plans_bench", help="created and dropped by the bench")
    parser.add_argument("--redis-db", type=int, default=5)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    import psycopg

    name = args.db_name
    admin = urlunsplit(urlsplit(base)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    redis_url = urlunsplit(
        urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")._replace(path=f"/{args.redis_db}")
    )

    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line otherwise
    inbox = CountingInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    stack = Stack(
        "plans-bench",
        database_url,
        redis_url,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        PLANS_DAILY_MESSAGE_CAP="100",
    )
    result: dict = {"leads": args.leads, "load_average_before": [round(x, 1) for x in os.getloadavg()]}
    try:
        stack.manage("migrate", "--noinput")
        started = time.monotonic()
        loaded = subprocess.run(
            [PYTHON, "manage.py", "shell", "-c", LOAD.format(n=args.leads)],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        )
        result["load_seconds"] = round(time.monotonic() - started, 1)
        print(f"loaded {loaded.stdout.strip()} enrolments in {result['load_seconds']} s", flush=True)
        workers = [stack.start_worker(), stack.start_worker()]
        time.sleep(3)
        result["worker_rss_kib_start"] = [tree_rss(worker.pid) for worker in workers]
        cpu_start = [cpu_seconds(worker.pid) for worker in workers]
        started = time.monotonic()
        driver = stack._spawn([PYTHON, "manage.py", "shell", "-c", DRIVE], {})
        peak = list(result["worker_rss_kib_start"])
        while len(inbox.counts) < args.leads and time.monotonic() - started < args.timeout:
            time.sleep(1)
            peak = [max(old, tree_rss(worker.pid)) for old, worker in zip(peak, workers, strict=True)]
            if "worker_rss_kib_warm" not in result and len(inbox.counts) >= args.leads // 10:
                result["worker_rss_kib_warm"] = [tree_rss(worker.pid) for worker in workers]  # after the first 10%
            if int(time.monotonic() - started) % 15 == 0:
                print(f"{int(time.monotonic() - started)} s: {len(inbox.counts)} received", flush=True)
        seconds = time.monotonic() - started
        result["seconds_until_all_sent"] = round(seconds, 1)
        result["messages_per_second"] = round(len(inbox.counts) / seconds, 1)
        result["load_average_during"] = [round(x, 1) for x in os.getloadavg()]
        # CPU the workers used (whatever the machine's load): what a message costs them.
        used = sum(cpu_seconds(worker.pid) - before for worker, before in zip(workers, cpu_start, strict=True))
        result["worker_cpu_seconds"] = round(used, 1)
        result["worker_cpu_ms_per_message"] = round(1000 * used / max(1, len(inbox.counts)), 2)
        result["worker_cpu_share_of_a_core"] = round(used / seconds, 2)
        time.sleep(10)  # anything doubled (a resend by the sweep) arrives now
        result["received"] = len(inbox.counts)
        result["messages_received"] = inbox.messages
        result["received_twice_or_more"] = sum(1 for count in inbox.counts.values() if count > 1)
        result["without_enrolment_header"] = inbox.counts.get(0, 0)
        result["worker_rss_kib_peak"] = peak
        result["worker_rss_kib_end"] = [tree_rss(worker.pid) for worker in workers]
        driver.terminate()
    finally:
        stack.stop()
        smtp.stop()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    out = ROOT / "artifacts" / "bench" / f"plans-{args.leads}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
