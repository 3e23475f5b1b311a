"""Redis going away under a running system: gunicorn (2 workers), a Celery worker run
as deploy/systemd/leadmgmt-worker.service runs it, PostgreSQL, and a redis-server of
the test's own that is killed (SIGKILL, no persistence: every queued message is lost)
and started again.

- The worker survives three kills during creates: after each restart it processes
  new leads, and in the end every lead is processed once the periodic sweep (as
  beat runs it) has re-sent what Redis refused or lost.
- With Redis down, or hung, writes answer 2xx without waiting on it.
"""

import os
import shlex
import string
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
import requests

from leadmgmt.tests.processes import ROOT, RedisServer, SilentServer, Stack, own_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

WORKER_UNIT = ROOT / "deploy" / "systemd" / "leadmgmt-worker.service"
CIRCUIT_OPEN_SECONDS = "1"
SLOW_WRITE_SECONDS = 2.0


@pytest.fixture(scope="module")
def redis_server():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs in the PostgreSQL pass")
    server = RedisServer().start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_server):
    with own_database(tmp_path_factory.mktemp("outage")) as database_url:
        stack = Stack("outage", database_url, redis_server.url, REDIS_CIRCUIT_OPEN_SECONDS=CIRCUIT_OPEN_SECONDS)
        try:
            stack.token = stack.set_up_agent("outage_agent")
            stack.base = stack.serve(workers=2)
            stack.worker = stack.start_worker(*production_worker_options(stack.env))
            yield stack
        finally:
            stack.stop()


def production_worker_options(env: dict[str, str]) -> list[str]:
    """The options after ``celery -A leadmgmt worker`` in the systemd unit's ExecStart,
    its ``${VARIABLES}`` filled in from ``env`` as systemd does from its EnvironmentFile."""
    [line] = [line for line in WORKER_UNIT.read_text().splitlines() if line.startswith("ExecStart=")]
    words = [string.Template(word).substitute(env) for word in shlex.split(line.removeprefix("ExecStart="))]
    return words[words.index("worker") + 1 :]


@dataclass
class Write:
    status: int
    seconds: float
    lead_id: str | None = None


class Client:
    def __init__(self, base: str, token: str):
        self.base = f"{base}/api/v2/leads"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.numbers = iter(range(10**6))
        self.tag = uuid.uuid4().hex[:8]  # emails unique across clients: no duplicate_lead

    def _send(self, method: str, path: str, body: dict) -> tuple[requests.Response, float]:
        started = time.monotonic()
        response = self.session.request(method, f"{self.base}{path}", json=body, timeout=30)
        return response, time.monotonic() - started

    def create(self) -> Write:
        n = next(self.numbers)
        body = {
            "contact": {"first_name": "Outage", "last_name": f"Lead{n}", "email": f"outage.{self.tag}.{n}@example.com"},
            "lead_type": "buyer",
            "source": "website",
            "preferences": {"preferred_locations": ["San Francisco"], "max_price": 900000},
        }
        response, seconds = self._send("POST", "", body)
        assert response.status_code == 201, response.text
        return Write(response.status_code, seconds, response.json()["lead"]["id"])

    def patch(self, lead_id: str) -> Write:
        response, seconds = self._send("PATCH", f"/{lead_id}", {"tags": [f"t{next(self.numbers)}"]})
        return Write(response.status_code, seconds, lead_id)

    def interaction(self, lead_id: str) -> Write:
        response, seconds = self._send("POST", f"/{lead_id}/interactions", {"type": "call", "summary": "Called"})
        return Write(response.status_code, seconds, lead_id)

    def batch(self) -> Write:
        n = next(self.numbers)
        leads = [
            {"contact": {"first_name": "Batch", "last_name": f"L{n}", "email": f"b.{self.tag}.{n}.{i}@example.com"}}
            for i in range(20)
        ]
        response, seconds = self._send("POST", "/batch", {"leads": leads})
        return Write(response.status_code, seconds)

    def processing(self) -> dict[str, str]:
        """Every lead of the agent: id -> processing status."""
        found, page = {}, 1
        while True:
            body = self.session.get(f"{self.base}?page_size=100&page={page}", timeout=30).json()
            found |= {lead["id"]: lead["processing"]["status"] for lead in body["leads"]}
            if len(found) >= body["total_count"] or not body["leads"]:
                return found
            page += 1

    def status_of(self, lead_id: str) -> str:
        return self.session.get(f"{self.base}/{lead_id}", timeout=30).json()["lead"]["processing"]["status"]


class Creator(threading.Thread):
    """Creates leads through the API, one every ``interval`` seconds, until stopped."""

    def __init__(self, client: Client, interval: float = 0.1):
        super().__init__(daemon=True)
        self.client, self.interval = client, interval
        self.writes: list[Write] = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            self.writes.append(self.client.create())
            self.stopped.wait(self.interval)

    def stop(self) -> list[Write]:
        self.stopped.set()
        self.join(timeout=30)
        return self.writes


def first_lead_processed_after(client: Client, timeout: float) -> float | None:
    """Creates a lead every second until one of them is processed by the worker (its
    save published the job and the worker ran it); returns the seconds that took."""
    started, created = time.monotonic(), []
    while time.monotonic() - started < timeout:
        created.append(client.create().lead_id)
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            if any(client.status_of(lead_id) == "done" for lead_id in created[-3:]):
                return time.monotonic() - started
            time.sleep(0.2)
    return None


def test_the_worker_survives_three_redis_kills_during_creates_and_every_lead_ends_processed(stack, redis_server):
    client = Client(stack.base, stack.token)
    assert first_lead_processed_after(client, timeout=30) is not None, "the worker never processed a lead"

    writes = []
    for kill in range(3):
        # given creates arriving all the time
        creator = Creator(client)
        creator.start()
        time.sleep(1)
        # when Redis dies (losing what it held) and comes back 2 s later
        redis_server.kill()
        time.sleep(2)
        redis_server.start()
        writes += creator.stop()
        # then the worker is still there and serving: a new lead gets processed
        assert stack.worker.poll() is None, f"the worker exited after kill {kill + 1}"
        assert first_lead_processed_after(client, timeout=30) is not None, f"no lead processed after kill {kill + 1}"

    # and every create was answered at once, Redis or not
    assert {write.status for write in writes} == {201}
    assert max(write.seconds for write in writes) < SLOW_WRITE_SECONDS
    # when the periodic sweep runs as beat runs it (here with no grace period: the
    # jobs Redis refused while down, and those it lost when killed)
    stack.manage("run_periodic", "--once", PIPELINE_UNSENT_GRACE_SECONDS="0", PIPELINE_UNFINISHED_GRACE_SECONDS="0")
    # then every lead is processed
    deadline = time.monotonic() + 30
    while set((statuses := client.processing()).values()) != {"done"} and time.monotonic() < deadline:
        time.sleep(0.5)
    assert {write.lead_id for write in writes} <= set(statuses)
    assert set(statuses.values()) == {"done"}, {
        status: list(statuses.values()).count(status) for status in statuses.values()
    }
    assert "Unrecoverable error" not in stack.log_text(stack.worker)


def write_round(client: Client, lead_id: str) -> list[Write]:
    return [client.patch(lead_id), client.interaction(lead_id), client.batch()]


def test_writes_do_not_wait_on_a_redis_that_is_down(stack, redis_server):
    client = Client(stack.base, stack.token)
    lead_id = client.create().lead_id
    write_round(client, lead_id)  # warm both gunicorn workers' connections
    write_round(client, lead_id)

    redis_server.kill()
    try:
        down = [write for _ in range(3) for write in write_round(client, lead_id)]
    finally:
        redis_server.start()

    assert [write.status for write in down] == [200, 201, 200] * 3
    assert max(write.seconds for write in down) < SLOW_WRITE_SECONDS


def test_writes_do_not_wait_on_a_redis_that_never_answers(stack):
    # given an app server whose Redis (cache, rate limit and broker) accepts connections
    # and never answers: hung, or behind a network that drops the traffic
    silent = SilentServer()
    try:
        hung = stack.serve(workers=1, REDIS_URL=silent.url)
        client = Client(hung, stack.token)
        lead_id = client.create().lead_id
        # when writes arrive, each answers within the socket timeouts, then without them
        writes = [write for _ in range(3) for write in write_round(client, lead_id)]
    finally:
        silent.close()

    assert [write.status for write in writes] == [200, 201, 200] * 3
    assert max(write.seconds for write in writes) < SLOW_WRITE_SECONDS
