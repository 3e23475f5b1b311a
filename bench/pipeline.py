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


def measure(
    app: tuple[str, int], database_url: str, token: str, make_payload, *, burst: int, paced_seconds: float, rate: float
) -> dict:
    """Throughput (a burst of creates, drained) and latency (creates paced at ``rate``/s)."""
    result: dict = {}

    # warm-up: the worker's first task imports and connects
    warm = Tracker(database_url)
    loadgen.drive(app, _create_calls(token, f"w{time.monotonic_ns()}", make_payload), count=2, on_reply=warm.on_reply)
    warm.wait(90)
    warm.close()

    tracker = Tracker(database_url)
    started = time.perf_counter()
    saves = loadgen.drive(
        app,
        _create_calls(token, f"b{time.monotonic_ns()}", make_payload),
        count=burst,
        concurrency=4,
        on_reply=tracker.on_reply,
    )
    drained = tracker.wait(max(120, burst))
    finished = max((item.done_at for item in tracker.leads.values() if item.done_at), default=started)
    done = len(tracker.latencies())
    result["burst"] = {
        "leads": burst,
        "saved": len(tracker.leads),
        "done": done,
        "drained": drained,
        "save_rps": saves.rps,
        "seconds": finished - started,
        "leads_per_second": done / (finished - started) if finished > started else None,
    }
    tracker.close()

    tracker = Tracker(database_url)
    count = int(rate * paced_seconds)
    saves = loadgen.drive(
        app,
        _create_calls(token, f"p{time.monotonic_ns()}", make_payload),
        count=count,
        concurrency=8,
        rate=rate,
        max_seconds=paced_seconds * 3,
        on_reply=tracker.on_reply,
    )
    drained = tracker.wait(120)
    latencies = tracker.latencies()
    result["paced"] = {
        "target_rate": rate,
        "achieved_rate": saves.requests / saves.wall_seconds if saves.wall_seconds else None,
        "leads": len(tracker.leads),
        "done": len(latencies),
        "drained": drained,
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "p95_ms": percentile(latencies, 95) * 1000 if latencies else None,
        "max_ms": max(latencies) * 1000 if latencies else None,
        "api_check": _check_through_api(app, token, list(tracker.leads)[:10]),
    }
    tracker.close()
    return result


def _check_through_api(app: tuple[str, int], token: str, public_ids: list[str]) -> str:
    """What GET /api/v2/leads/{id} shows as processing.status for a sample of the leads."""
    statuses = []
    for public_id in public_ids:
        reply = loadgen.send_one(app, Call("GET", f"/api/v2/leads/{public_id}", token=token))
        statuses.append(reply.json()["lead"]["processing"]["status"] if reply.status == 200 else f"HTTP {reply.status}")
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    return ", ".join(f"{count} {status}" for status, count in counts.items()) or "no leads"
