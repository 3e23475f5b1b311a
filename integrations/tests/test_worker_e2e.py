"""End to end on real processes: gunicorn serves the API, a Celery worker reads
real Redis, and a webhook receiver on loopback plays the CRM.

The stack gets its own database (a fresh PostgreSQL database in the PostgreSQL
pass, a SQLite file otherwise), set up with the project's own commands, and is
checked only through HTTP, the way an integration sees it.
"""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from leadmgmt.tests.processes import (
    Stack,
    own_database,
    postgres_connections,
    shared_redis_url,
    wait_for_processing,
)
from leads.tests.factories import seed_payload

pytestmark = pytest.mark.redis

CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"
WEBHOOK_SECRET = "e2e-webhook-secret"


@pytest.fixture(scope="module")
def redis_url():
    return shared_redis_url(14)  # a db of our own


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    with own_database(tmp_path_factory.mktemp("e2e")) as url:
        yield url


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


@pytest.fixture(scope="module")
def stack(database_url, redis_url):
    crm = CrmReceiver()
    stack = Stack("e2e", database_url, redis_url, CRM_WEBHOOK_URL=crm.url, CRM_WEBHOOK_SECRET=WEBHOOK_SECRET)
    stack.crm = crm
    stack.token = stack.set_up_agent()
    stack.worker = stack.start_worker()
    yield stack
    stack.stop()
    crm.server.shutdown()


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


def test_the_worker_keeps_its_database_connection_from_task_to_task(stack, database_url):
    if not database_url.startswith("postgres"):
        pytest.skip("connections are kept on PostgreSQL (the embedded SQLite opens one per task)")
    base = stack.serve()
    headers = {"Authorization": f"Bearer {stack.token}"}

    def process_a_lead(name: str) -> None:
        body = seed_payload(contact={"first_name": name, "last_name": "Keep", "email": f"{name}.keep@example.com"})
        response = requests.post(f"{base}/api/v2/leads", json=body, headers=headers, timeout=30)
        assert response.status_code == 201, response.text
        assert wait_for_processing(base, stack.token, response.json()["lead"]["id"])["processing"]["status"] == "done"

    process_a_lead("Ada")
    kept = postgres_connections(stack.worker.pid)
    # its tasks done, the worker still holds its connection (Celery would close it after each)
    assert kept
    for name in ("Bea", "Cal", "Dee"):
        process_a_lead(name)
    # a dozen more tasks ran on the same connection: no new PostgreSQL session per task
    assert postgres_connections(stack.worker.pid) == kept


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
