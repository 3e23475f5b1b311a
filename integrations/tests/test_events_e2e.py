"""Every event a save made reaches webhook subscribers, on real processes: gunicorn,
a Celery worker on real Redis, and a receiver on loopback.

Before lead events had their own outbox, webhooks were emitted from the pipeline's
job for the newest version, so a save superseded before its job ran lost its events:
a lead created and at once given an interaction sent no ``lead.created``, a status
PATCH followed at once by a tags PATCH sent no ``lead.status_changed``, and with the
worker restarted only some of 45 new leads produced ``lead.created``.
"""

import json
import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from leadmgmt.tests.processes import Stack, own_database, shared_redis_url
from leads.tests.factories import seed_payload

pytestmark = pytest.mark.redis

# Short outbox timers, so the sweeps that production's beat runs can recover lost
# messages within the test.
FAST_RECOVERY = {
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOKS_REQUEUE_AFTER_SECONDS": "3",
    "CRM_SYNC_REQUEUE_AFTER_SECONDS": "3",
}
SWEEP_NOW = {
    "LEAD_EVENTS_RELAY_GRACE_SECONDS": "0",
    "PIPELINE_UNSENT_GRACE_SECONDS": "0",
    "PIPELINE_UNFINISHED_GRACE_SECONDS": "0",
}


ALL_EVENTS = [
    "lead.created",
    "lead.updated",
    "lead.status_changed",
    "lead.assigned",
    "interaction.added",
    "lead.merged",
    "lead.archived",
    "lead.restored",
    "lead.scored",
]


class EventReceiver:
    """A webhook subscriber's endpoint on loopback: keeps every delivery's body."""

    def __init__(self):
        self.bodies: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.bodies.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events_for(self, lead_id: str) -> dict[str, tuple[str, int]]:
        """The distinct events received for the lead, by event id: (name, version)."""
        with self._lock:
            return {
                body["id"]: (body["event"], body["version"]) for body in self.bodies if body["lead"]["id"] == lead_id
            }


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with own_database(tmp_path_factory.mktemp("events")) as database_url:
        stack = Stack("events", database_url, shared_redis_url(13), **FAST_RECOVERY)
        yield from running(stack)


def running(stack: Stack):
    stack.agent = {"Authorization": f"Bearer {stack.set_up_agent('events_agent')}"}
    stack.manage("create_agent", "events_manager", "--password", "events-manager-pass", "--role", "manager")
    manager_token = stack.manage("api_token", "events_manager").strip().splitlines()[-1]
    stack.manager = {"Authorization": f"Bearer {manager_token}"}
    stack.worker = stack.start_worker()
    stack.base = stack.serve()
    stack.receiver = EventReceiver()
    response = requests.post(
        f"{stack.base}/api/v2/webhooks",
        json={"name": "Every event", "url": stack.receiver.url, "events": ALL_EVENTS},
        headers=stack.manager,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    yield stack
    stack.stop()
    stack.receiver.server.shutdown()


def person(number: int) -> dict:
    return seed_payload(
        contact={"first_name": f"Event{number}", "last_name": "Test", "email": f"event{number}@example.com"}
    )


def wait_for(condition, *, timeout: float = 30, sweep: Stack | None = None):
    """Poll ``condition`` until it holds; with ``sweep``, run the periodic sweeps meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        if sweep is not None:
            sweep.manage("run_periodic", "--once", **SWEEP_NOW)
        time.sleep(0.3)
    return True


def saves_without_scores(events: dict[str, tuple[str, int]]) -> Counter:
    return Counter(event for event in events.values() if event[0] != "lead.scored")


def test_a_lead_created_and_at_once_given_an_interaction_sends_every_event(stack):
    # when a lead is created and an interaction logged right after, before its work runs
    created = requests.post(f"{stack.base}/api/v2/leads", json=person(1), headers=stack.agent, timeout=30)
    lead_id = created.json()["lead"]["id"]
    interaction = requests.post(
        f"{stack.base}/api/v2/leads/{lead_id}/interactions",
        json={"type": "call", "summary": "Called at once"},
        headers=stack.agent,
        timeout=30,
    )
    assert (created.status_code, interaction.status_code) == (201, 201)

    # then the subscriber gets exactly the events the two saves made, and the newest score
    expected = Counter(
        {
            ("lead.created", 1): 1,
            ("interaction.added", 2): 1,
            ("lead.status_changed", 2): 1,
            ("lead.updated", 2): 1,
        }
    )
    assert wait_for(
        lambda: (
            saves_without_scores(stack.receiver.events_for(lead_id)) == expected
            and ("lead.scored", 2) in stack.receiver.events_for(lead_id).values()
        )
    ), stack.receiver.events_for(lead_id)


def test_a_status_patch_followed_at_once_by_a_tags_patch_sends_the_status_change(stack):
    created = requests.post(f"{stack.base}/api/v2/leads", json=person(2), headers=stack.agent, timeout=30)
    lead_id = created.json()["lead"]["id"]
    url = f"{stack.base}/api/v2/leads/{lead_id}"
    # when the status and then the tags are patched back to back
    status = requests.patch(url, json={"status": "qualified"}, headers=stack.agent, timeout=30)
    tags = requests.patch(url, json={"tags": ["hot"]}, headers=stack.agent, timeout=30)
    assert (status.status_code, tags.status_code) == (200, 200)

    # then lead.status_changed is delivered with the rest
    expected = Counter(
        {
            ("lead.created", 1): 1,
            ("lead.status_changed", 2): 1,
            ("lead.updated", 2): 1,
            ("lead.updated", 3): 1,
        }
    )
    assert wait_for(lambda: saves_without_scores(stack.receiver.events_for(lead_id)) == expected), (
        stack.receiver.events_for(lead_id)
    )


def test_45_creates_with_the_worker_killed_midway_each_send_lead_created(stack):
    lead_ids = []
    for number in range(100, 145):
        if number == 115:
            # the worker dies mid-run, without a warm shutdown (its unacknowledged work is lost with it)
            stack.worker.send_signal(signal.SIGKILL)
        if number == 130:
            stack.start_worker()
        response = requests.post(f"{stack.base}/api/v2/leads", json=person(number), headers=stack.agent, timeout=30)
        assert response.status_code == 201, response.text
        lead_ids.append(response.json()["lead"]["id"])

    # then, with the sweeps of production's beat, each new lead sends its lead.created exactly as made
    def every_lead_created_once() -> bool:
        return all(
            saves_without_scores(stack.receiver.events_for(lead_id)) == Counter({("lead.created", 1): 1})
            for lead_id in lead_ids
        )

    assert wait_for(every_lead_created_once, timeout=90, sweep=stack), [
        lead_id for lead_id in lead_ids if not stack.receiver.events_for(lead_id)
    ]

    # and every lead was analysed and scored
    def processing_of(lead_id: str) -> str:
        url = f"{stack.base}/api/v2/leads/{lead_id}"
        return requests.get(url, headers=stack.agent, timeout=30).json()["lead"]["processing"]["status"]

    assert wait_for(lambda: all(processing_of(lead_id) == "done" for lead_id in lead_ids), sweep=stack)
