"""Follow-up plans at scale (issue 12): N leads enrolled with a step due in the same
minute, two Celery worker processes, a loopback SMTP server and a loopback
Twilio-compatible SMS provider counting what arrives.

``--text-share`` of the leads (default half) are in a one-text plan, consented to texts,
in a team whose zone is at midday now (so no quiet hours); the others in a one-email plan.

    .venv/bin/python -m bench.plans_bench --leads 100000

Needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432 as postgres; the bench creates and
drops the database ``--db-name``) and Redis (REDIS_URL or 127.0.0.1:6379, db
``--redis-db``). Prints and writes artifacts/bench/plans-<N>.json: seconds until every
message arrived, messages per second, enrolments whose email the SMTP server received
twice or more (counted at the server by the X-Plan-Enrolment header: must be 0) and
enrolments whose text the SMS provider took twice or more (counted by the To number,
one lead and one enrolment per number, and by the message named in the StatusCallback
URL: must be 0), the
workers' memory (RSS) at the start, peak and end, and the load average. A driver
process plays beat: run_plan_steps and sweep_plan_deliveries every 2 seconds.
"""

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")
import django  # noqa: E402

django.setup()  # the process helpers are the tests' (they import the project's conftest)

from integrations.sms.tests.conftest import SMS_FROM, SMS_SID, SMS_TOKEN, SmsProvider  # noqa: E402
from leadmgmt.tests.processes import PYTHON, Stack, free_port  # noqa: E402

LOAD = """
from django.utils import timezone
from integrations.plans.models import Consent, Enrolment, Plan
from leads.models import Contact, Lead, Preferences, Team, Timeline, User
now = timezone.now()
offset = (13 - now.hour + 12) % 24 - 12  # the zone where it is about 13:00 now: texts are not in quiet hours
team = Team.objects.create(name="Bench", time_zone=f"Etc/GMT{{'+' if offset <= 0 else '-'}}{{abs(offset)}}")
agent = User.objects.create(username="bench_plans_agent", email="agent@bench.example.com", team=team)
emails = Plan.objects.create(name="Bench emails", is_active=True)
emails.steps.create(
    position=10, kind="send_email", subject="Hi {{{{ first_name }}}}", body="Hello {{{{ first_name }}}}"
)
texts = Plan.objects.create(name="Bench texts", is_active=True)
texts.steps.create(position=10, kind="send_text", body="Hi {{{{ first_name }}}}, this is {{{{ agent_name }}}}")
every = round(1 / {share}) if {share} else 0  # every n-th lead is in the text plan
for start in range(0, {n}, 5000):
    leads = Lead.objects.bulk_create(
        [Lead(lead_type="buyer", source="website", assigned_to=agent, team=team)
         for _ in range(start, min(start + 5000, {n}))]
    )
    texted = {{lead.pk for lead in leads if every and lead.pk % every == 0}}
    Contact.objects.bulk_create(
        [Contact(lead=lead, first_name=f"L{{lead.pk}}", email=f"lead{{lead.pk}}@bench.example.com",
                 phone=f"+1202{{lead.pk:07d}}") for lead in leads]
    )
    Preferences.objects.bulk_create([Preferences(lead=lead) for lead in leads])
    Timeline.objects.bulk_create([Timeline(lead=lead) for lead in leads])
    Consent.objects.bulk_create(
        [Consent(lead_id=pk, channel="text", granted=True, source="bench", at=now) for pk in texted]
    )
    Enrolment.objects.bulk_create(
        [Enrolment(lead=lead, plan=texts if lead.pk in texted else emails, next_position=10, next_due_at=now,
                   reason="bench", started_at=now)
         for lead in leads]
    )
print(Enrolment.objects.count(), Enrolment.objects.filter(plan=texts).count(), team.time_zone)
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


class CountingProvider(SmsProvider):
    """The tests' loopback Twilio-compatible server (keep-alive on), counting the texts it took per
    enrolment (by the To number: one lead, one enrolment each) and per message (the
    StatusCallback URL names it)."""

    def __init__(self):
        super().__init__()
        self.httpd.RequestHandlerClass.protocol_version = "HTTP/1.1"  # keep-alive, as a real provider
        self.per_number: Counter = Counter()
        self.per_message: Counter = Counter()
        self.taken = self.refused = 0
        self.expected_auth = "Basic " + base64.b64encode(f"{SMS_SID}:{SMS_TOKEN}".encode()).decode()

    def handle(self, handler, body: bytes):
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        if handler.headers.get("Authorization", "") != self.expected_auth or not form.get("To"):
            with self._lock:
                self.refused += 1
            return 401, {"code": 20003, "message": "Authenticate"}, {}
        with self._lock:
            self.taken += 1
            sid = f"SM{self.taken:032x}"
            self.per_number[form["To"]] += 1
            self.per_message[form.get("StatusCallback", "")] += 1
        return 201, {"sid": sid, "status": "queued", "to": form["To"]}, {}


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
    parser.add_argument("--text-share", type=float, default=0.5, help="of the leads in the text plan (0, 0.5, 1)")
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
    sms = CountingProvider()
    stack = Stack(
        "plans-bench",
        database_url,
        redis_url,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        PLANS_DAILY_MESSAGE_CAP="100",
        SMS_BASE_URL=sms.base_url,
        SMS_ACCOUNT_SID=SMS_SID,
        SMS_AUTH_TOKEN=SMS_TOKEN,
        SMS_FROM_NUMBER=SMS_FROM,
        SITE_URL="https://leads.example.com",
    )
    result: dict = {
        "leads": args.leads,
        "text_share": args.text_share,
        "load_average_before": [round(x, 1) for x in os.getloadavg()],
    }

    def received() -> int:
        return len(inbox.counts) + len(sms.per_number)

    try:
        stack.manage("migrate", "--noinput")
        started = time.monotonic()
        loaded = subprocess.run(
            [PYTHON, "manage.py", "shell", "-c", LOAD.format(n=args.leads, share=args.text_share)],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        )
        result["load_seconds"] = round(time.monotonic() - started, 1)
        enrolments, in_text_plan, zone = loaded.stdout.split()[-3:]
        result["enrolments"], result["texts_expected"], result["lead_zone"] = int(enrolments), int(in_text_plan), zone
        print(f"loaded {enrolments} enrolments ({in_text_plan} texts) in {result['load_seconds']} s", flush=True)
        workers = [stack.start_worker(), stack.start_worker()]
        time.sleep(3)
        result["worker_rss_kib_start"] = [tree_rss(worker.pid) for worker in workers]
        cpu_start = [cpu_seconds(worker.pid) for worker in workers]
        started = time.monotonic()
        driver = stack._spawn([PYTHON, "manage.py", "shell", "-c", DRIVE], {})
        peak = list(result["worker_rss_kib_start"])
        while received() < args.leads and time.monotonic() - started < args.timeout:
            time.sleep(1)
            peak = [max(old, tree_rss(worker.pid)) for old, worker in zip(peak, workers, strict=True)]
            if "worker_rss_kib_warm" not in result and received() >= args.leads // 10:
                result["worker_rss_kib_warm"] = [tree_rss(worker.pid) for worker in workers]  # after the first 10%
            if int(time.monotonic() - started) % 15 == 0:
                print(
                    f"{int(time.monotonic() - started)} s: {len(inbox.counts)} emails, {len(sms.per_number)} texts",
                    flush=True,
                )
        seconds = time.monotonic() - started
        result["seconds_until_all_sent"] = round(seconds, 1)
        result["messages_per_second"] = round(received() / seconds, 1)
        result["load_average_during"] = [round(x, 1) for x in os.getloadavg()]
        # CPU the workers used (whatever the machine's load): what a message costs them.
        used = sum(cpu_seconds(worker.pid) - before for worker, before in zip(workers, cpu_start, strict=True))
        result["worker_cpu_seconds"] = round(used, 1)
        result["worker_cpu_ms_per_message"] = round(1000 * used / max(1, received()), 2)
        result["worker_cpu_share_of_a_core"] = round(used / seconds, 2)
        time.sleep(10)  # anything doubled (a resend by the sweep) arrives now
        result["received"] = received()
        result["emails_received"] = len(inbox.counts)
        result["email_messages_received"] = inbox.messages
        result["received_twice_or_more"] = sum(1 for count in inbox.counts.values() if count > 1)
        result["without_enrolment_header"] = inbox.counts.get(0, 0)
        result["texts_received"] = len(sms.per_number)
        result["text_messages_taken"] = sms.taken
        result["texts_taken_twice_or_more"] = sum(1 for count in sms.per_number.values() if count > 1)
        result["text_messages_taken_twice_or_more"] = sum(1 for count in sms.per_message.values() if count > 1)
        result["texts_refused_by_provider"] = sms.refused
        result["worker_rss_kib_peak"] = peak
        result["worker_rss_kib_end"] = [tree_rss(worker.pid) for worker in workers]
        driver.terminate()
    finally:
        stack.stop()
        smtp.stop()
        sms.stop()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    out = ROOT / "artifacts" / "bench" / f"plans-{args.leads}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
