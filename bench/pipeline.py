"""The after-save pipeline: throughput and latency from a save to "processing: done".

Leads are created through the API (gunicorn) and a real Celery worker on Redis
analyses and scores them. A lead counts as done when its ``processing`` shows
status "done" for the saved version. To keep a 2-core machine free for the
worker, completion is watched with one SQL query every 50 ms over the columns
that GET /api/v2/leads/{id} renders as ``processing``; at the end a sample of the
leads is read back through the API to check it shows the same.
"""

import threading
import time
from dataclasses import dataclass

import psycopg

from bench import loadgen
from bench.loadgen import Call, percentile

POLL_SECONDS = 0.05


@dataclass
class Tracked:
    public_id: str
    version: int
    saved_at: float
    done_at: float | None = None


class Tracker:
    """Leads saved through the API, and when each was first seen processed (watched
    by a thread while the saves are still being sent)."""

    def __init__(self, database_url: str):
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.leads: dict[str, Tracked] = {}
        self.failed_saves = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def on_reply(self, _index: int, reply: loadgen.Reply) -> None:
        if reply.status != 201:
            self.failed_saves += 1
            return
        lead = reply.json()["lead"]
        with self._lock:
            self.leads[lead["id"]] = Tracked(lead["id"], lead["version"], reply.finished)

    def _watch(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._poll()

    def _poll(self) -> None:
        with self._lock:
            pending = {item.public_id: item for item in self.leads.values() if item.done_at is None}
        if not pending:
            return
        rows = self.conn.execute(
            "SELECT public_id, processing_status, processed_version FROM leads_lead WHERE public_id = ANY(%s)",
            [list(pending)],
        ).fetchall()
        now = time.perf_counter()
        for public_id, status, processed_version in rows:
            item = pending[public_id]
            if status == "done" and processed_version >= item.version:
                item.done_at = now

    def wait(self, timeout: float) -> bool:
        """True once every saved lead is done; False when ``timeout`` passes first."""
        deadline = time.perf_counter() + timeout
        while True:
            with self._lock:
                pending = sum(1 for item in self.leads.values() if item.done_at is None)
            if not pending:
                return True
            if time.perf_counter() > deadline:
                return False
            time.sleep(POLL_SECONDS)

    def latencies(self) -> list[float]:
        with self._lock:
            return [item.done_at - item.saved_at for item in self.leads.values() if item.done_at is not None]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.conn.close()


def _create_calls(token: str, tag: str, make_payload):
    return lambda index: Call.json("POST", "/api/v2/leads", make_payload(index, tag), token=token)


def queued_tasks(redis_url: str) -> int:
    """Messages waiting in the bench's Redis database, or taken but not yet acknowledged."""
    import redis

    client = redis.Redis.from_url(redis_url)
    waiting = sum(client.llen(key) for key in client.scan_iter(_type="list"))
    return waiting + client.hlen("unacked")


def _wait_until_idle(redis_url: str, timeout: float = 180) -> bool:
    deadline = time.perf_counter() + timeout
    while queued_tasks(redis_url):
        if time.perf_counter() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def measure(
    app: tuple[str, int],
    database_url: str,
    redis_url: str,
    token: str,
    make_payload,
    *,
    start_worker,
    burst: int,
    paced_seconds: float,
    rate: float,
) -> dict:
    """Throughput and latency of the after-save work of API creates.

    Throughput: ``burst`` leads are created while no worker runs, then the worker
    started by ``start_worker()`` drains the queue alone; counted from the first
    lead done (worker start-up excluded) to the last lead done (analysed + scored)
    and to the empty queue (the follow-on CRM and workflow tasks too).
    Latency: creates sent at ``rate`` per second, save answered -> done; and, when
    the worker cannot keep up with ``rate``, again at half its sustainable rate
    (follow-on tasks included).
    """
    result: dict = {}
    tag = time.monotonic_ns()
    tracker = Tracker(database_url)
    saves = loadgen.drive(
        app, _create_calls(token, f"b{tag}", make_payload), count=burst, concurrency=4, on_reply=tracker.on_reply
    )
    worker = start_worker()
    try:
        drained = tracker.wait(max(120, burst))
        done_times = sorted(item.done_at for item in tracker.leads.values() if item.done_at is not None)
        _wait_until_idle(redis_url)
        empty_at = time.perf_counter()
        tracker.close()
        span = done_times[-1] - done_times[0] if len(done_times) > 1 else 0
        result["burst"] = {
            "leads": burst,
            "saved": len(tracker.leads),
            "save_rps": saves.rps,
            "done": len(done_times),
            "drained": drained,
            "scored_per_second": (len(done_times) - 1) / span if span else None,
            "all_tasks_per_second": (len(done_times) - 1) / (empty_at - done_times[0]) if done_times else None,
        }
        result["paced"] = _paced(app, database_url, token, make_payload, rate, paced_seconds, f"p{tag}")
        _wait_until_idle(redis_url)  # the follow-on tasks of the paced leads may still be queued
        # The worker also runs each lead's follow-on tasks: that is its sustainable rate.
        sustained = result["burst"]["all_tasks_per_second"]
        if sustained and sustained < rate:
            result["unloaded"] = _paced(
                app, database_url, token, make_payload, sustained / 2, paced_seconds, f"u{tag}", check=False
            )
    finally:
        worker.stop()
    return result


def _paced(app, database_url: str, token: str, make_payload, rate: float, seconds: float, tag: str, *, check=True):
    tracker = Tracker(database_url)
    count = max(2, int(rate * seconds))
    saves = loadgen.drive(
        app,
        _create_calls(token, tag, make_payload),
        count=count,
        concurrency=8,
        rate=rate,
        max_seconds=seconds * 3,
        on_reply=tracker.on_reply,
    )
    drained = tracker.wait(120)
    latencies = tracker.latencies()
    found = {
        "target_rate": rate,
        "achieved_rate": saves.requests / saves.wall_seconds if saves.wall_seconds else None,
        "leads": len(tracker.leads),
        "done": len(latencies),
        "drained": drained,
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "p95_ms": percentile(latencies, 95) * 1000 if latencies else None,
        "max_ms": max(latencies) * 1000 if latencies else None,
    }
    if check:
        found["api_check"] = _check_through_api(app, token, list(tracker.leads)[:10])
    tracker.close()
    return found


def _check_through_api(app: tuple[str, int], token: str, public_ids: list[str]) -> str:
    """What GET /api/v2/leads/{id} shows as processing.status for a sample of the leads."""
    statuses = []
    for public_id in public_ids:
        reply = loadgen.send_one(app, Call("GET", f"/api/v2/leads/{public_id}", token=token))
        statuses.append(reply.json()["lead"]["processing"]["status"] if reply.status == 200 else f"HTTP {reply.status}")
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    return ", ".join(f"{count} {status}" for status, count in counts.items()) or "no leads"
