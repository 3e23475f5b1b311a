"""End to end on real processes: gunicorn serves the API, a Celery worker reads
real Redis, and a webhook receiver on loopback plays the CRM.

The stack gets its own database (a fresh PostgreSQL database in the PostgreSQL
pass, a SQLite file otherwise), set up with the project's own commands, and is
checked only through HTTP, the way an integration sees it.
"""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from conftest import skip_or_fail
from leads.tests.factories import seed_payload

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"
WEBHOOK_SECRET = "e2e-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url():
    import redis

    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    parts = urlsplit(base)
    url = urlunsplit((parts.scheme, parts.netloc, "/14", "", ""))  # a db of our own
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not reachable at {url}: {exc}")
    return url


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith("postgres"):
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.sqlite3'}"
        return
    import psycopg

    name = f"leadmgmt_e2e_{uuid.uuid4().hex[:8]}"
    admin_url = urlunsplit(urlsplit(configured)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(configured)._replace(path=f"/{name}"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class CrmReceiver:
    """A webhook endpoint on loopback that checks the signature of what it receives."""

    def __init__(self):
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers.get("X-Leads-Timestamp", "")
                expected = hmac.new(
                    WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
                ).hexdigest()
                signature_ok = hmac.compare_digest(self.headers.get("X-Leads-Signature", ""), f"sha256={expected}")
                receiver.received.append({"body": json.loads(body), "signature_ok": signature_ok})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "crm-1"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/leads"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_lead(self, lead_id: str) -> list[dict]:
        return [item for item in self.received if item["body"].get("lead", {}).get("id") == lead_id]


class Stack:
    def __init__(self, database_url: str, redis_url: str, crm: CrmReceiver):
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "leadmgmt.settings",
            "CRM_WEBHOOK_URL": crm.url,
            "CRM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "PYTHONUNBUFFERED": "1",
            # A queue of our own: other test runs sharing this Redis never take our tasks.
            "CELERY_QUEUE": f"e2e-{uuid.uuid4().hex[:10]}",
        }
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str, **env: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}"
        return result.stdout

    def serve(self, **env: str) -> str:
        port = free_port()
        self._spawn(
            [PYTHON, "-m", "gunicorn", "leadmgmt.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "--timeout", "60"],
            env,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/api/v2/leads", timeout=10)
                return base
            except requests.RequestException:  # not listening yet, or still booting
                time.sleep(0.2)
        raise AssertionError("gunicorn did not start")

    def start_worker(self) -> None:
        self._spawn(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "leadmgmt",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"e2e-{uuid.uuid4().hex[:6]}@%h",
            ],
            {},
        )

    def _spawn(self, command: list[str], env: dict) -> None:
        log = open(ROOT / "artifacts" / f"e2e-{len(self.processes)}.log", "w")  # noqa: SIM115
        self.processes.append(
            subprocess.Popen(command, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        )

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def stack(database_url, redis_url):
    (ROOT / "artifacts").mkdir(exist_ok=True)
    crm = CrmReceiver()
    stack = Stack(database_url, redis_url, crm)
    stack.crm = crm
    stack.manage("migrate", "--noinput")
    stack.manage("seed_market_demo")
    stack.manage("create_agent", "e2e_agent", "--password", "e2e-agent-pass")
    stack.token = stack.manage("api_token", "e2e_agent").strip().splitlines()[-1]
    stack.start_worker()
    yield stack
    stack.stop()
    crm.server.shutdown()


def wait_for_processing(base: str, token: str, lead_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        lead = requests.get(
            f"{base}/api/v2/leads/{lead_id}", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).json()["lead"]
        if lead["processing"]["status"] != "pending" or time.monotonic() > deadline:
            return lead
        time.sleep(0.25)


def test_api_answers_first_then_worker_adds_analysis_score_and_crm_sync(stack):
    base = stack.serve()
    headers = {"Authorization": f"Bearer {stack.token}"}
    # when an integration creates the seed's lead
    response = requests.post(f"{base}/api/v2/leads", json=seed_payload(), headers=headers, timeout=30)
    # then the API answers at once, before the work is done
    assert response.status_code == 201
    created = response.json()["lead"]
    assert created["processing"]["status"] == "pending"
    assert created["score"] is None
    # and within seconds the worker has analysed, scored and synced it
    lead = wait_for_processing(base, stack.token, created["id"])
    assert lead["processing"]["status"] == "done", lead["processing"]
    assert 0 <= lead["score"] <= 100
    assert {factor["axis"] for factor in lead["score_breakdown"]} == {"fit", "engagement"}
    san_francisco = lead["metadata"]["market_analysis"]["locations"][0]
    assert san_francisco["location"] == "San Francisco" and san_francisco["status"] == "ok"
    assert lead["metadata"]["lead_insights"]["sentences"]
    deadline = time.monotonic() + 20
    while not stack.crm.for_lead(created["id"]) and time.monotonic() < deadline:
        time.sleep(0.25)
    deliveries = stack.crm.for_lead(created["id"])
    assert deliveries, "the CRM webhook received nothing"
    assert all(delivery["signature_ok"] for delivery in deliveries)


def test_redis_down_at_save_then_work_runs_once_redis_is_back(stack):
    # given an app server whose broker is a closed port
    down = stack.serve(REDIS_URL=CLOSED_REDIS_URL)
    headers = {"Authorization": f"Bearer {stack.token}"}
    started = time.monotonic()
    # (another person than the first test's John Doe: the same email would be a duplicate)
    body = seed_payload(contact={"first_name": "Jane", "last_name": "Roe", "email": "jane.roe@example.com"})
    response = requests.post(f"{down}/api/v2/leads", json=body, headers=headers, timeout=30)
    elapsed = time.monotonic() - started
    # then the save still answers 201 and the work waits
    assert response.status_code == 201, response.text
    lead_id = response.json()["lead"]["id"]
    assert elapsed < 10
    time.sleep(1)
    assert wait_for_processing(down, stack.token, lead_id, timeout=0)["processing"]["status"] == "pending"
    # when the periodic sweep runs against the live broker
    stack.manage("run_periodic", "--once", PIPELINE_UNSENT_GRACE_SECONDS="0", LEAD_EVENTS_RELAY_GRACE_SECONDS="0")
    # then the worker does the work exactly once
    lead = wait_for_processing(down, stack.token, lead_id)
    assert lead["processing"]["status"] == "done"
    assert lead["score"] is not None
