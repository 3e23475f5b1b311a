"""Every list filter and sort key at scale (issue 16): ``GET /api/v2/leads?<filter>`` on the
app against ``GET /leads?<filter>`` on the floor (``bench.floor``: the same query in raw SQL,
no Django), both served by gunicorn on the bench dataset (``bench.dataset``), as the
manager who sees every lead.

    .venv/bin/python -m bench.filters_bench --sizes 10k,1m
    .venv/bin/python -m bench.filters_bench --sizes 1m --repeat 31

Needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432 as postgres); reuses the main bench's
loaded databases (``leadmgmt_bench_<size>``). For each filter the API and the leads page
offer (status, lead type, source, urgency, agent, unassigned, location, score range,
arrival range) and each sort key in both directions: one request to each side to check
they return the same leads in the same order and the same total, a warm-up, then
``--repeat`` requests to the app and to the floor in turn, one at a time over a new
connection each (as the load generator's requests are). Prints p50 and the ratio (target:
at most 3x, as in bench/RESULTS.md); writes artifacts/bench/filters-<size>.json
(bench/FILTERS.md keeps the figures of record)."""

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")

import django  # noqa: E402

django.setup()  # the loader reads table and column names from the models

import psycopg  # noqa: E402

from bench import databases, dataset, servers  # noqa: E402
from bench.floor import SORT_COLUMNS  # noqa: E402
from bench.run import CLOSED_REDIS_URL  # noqa: E402

TARGET_RATIO = 3
PAGE = 20
REDIS_DB = 13  # of the local Redis, flushed first (the main bench uses 12, the smoke tests 11)


def cases(url: str) -> list[tuple[str, dict]]:
    """(label, query) for every filter and sort key, with values the loaded data has."""
    with psycopg.connect(url) as conn:
        agent_id = conn.execute("SELECT id FROM leads_user WHERE role = 'agent' ORDER BY id LIMIT 1").fetchone()[0]
    now = datetime.now(UTC)
    found = [
        ("no filter (newest first)", {}),
        ("status", {"status": "qualified"}),
        ("lead type", {"lead_type": "seller"}),
        ("status + lead type", {"status": "qualified", "lead_type": "buyer"}),
        ("source", {"source": "zillow"}),
        ("urgency", {"urgency": "urgent"}),
        ("agent", {"assigned_to": str(agent_id)}),
        ("unassigned", {"assigned_to": "unassigned"}),
        ("location", {"location": "Fremont"}),
        ("score at least 80", {"score_min": "80"}),
        ("score at most 20", {"score_max": "20"}),
        ("arrived in the last 30 days", {"created_after": (now - timedelta(days=30)).isoformat()}),
        ("arrived over 2 years ago", {"created_before": (now - timedelta(days=730)).isoformat()}),
        ("source + urgency", {"source": "zillow", "urgency": "urgent"}),
    ]
    for key in SORT_COLUMNS:
        for ordering in (key, f"-{key}"):
            if ordering != "-created_at":  # the default: the first case
                found.append((f"ordering={ordering}", {"ordering": ordering}))
    return found


def get(address: tuple[str, int], path: str, token: str) -> tuple[float, dict]:
    connection = http.client.HTTPConnection(*address, timeout=120)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "Host": "127.0.0.1"})
    response = connection.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    assert response.status == 200, (path, response.status, body[:300])
    return elapsed, json.loads(body)


def measure(app, floor, token: str, query: dict, *, repeat: int) -> dict:
    encoded = urlencode({**query, "page_size": PAGE})
    app_path, floor_path = f"/api/v2/leads?{encoded}", f"/leads?{encoded}"
    _, app_body = get(app.address, app_path, token)
    _, floor_body = get(floor.address, floor_path, token)
    assert [lead["id"] for lead in app_body["leads"]] == [lead["id"] for lead in floor_body["leads"]], (
        f"{query}: app and floor list different leads"
    )
    assert app_body["total_count"] == floor_body["total_count"], (
        f"{query}: totals {app_body['total_count']} != {floor_body['total_count']}"
    )
    app_ms, floor_ms = [], []
    for _ in range(repeat):  # in turn, so both sides meet the same moments of a shared machine
        app_ms.append(get(app.address, app_path, token)[0])
        floor_ms.append(get(floor.address, floor_path, token)[0])
    return {
        "found": app_body["total_count"],
        "app_p50_ms": round(statistics.median(app_ms), 1),
        "app_max_ms": round(max(app_ms), 1),
        "floor_p50_ms": round(statistics.median(floor_ms), 1),
        "ratio": round(statistics.median(app_ms) / statistics.median(floor_ms), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10k,1m", help="comma-separated: 10k, 100k, 1m")
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--prefix", default="leadmgmt_bench", help="of the loaded databases' names")
    args = parser.parse_args()
    base = databases.server_url()
    for label in args.sizes.split(","):
        size = dataset.DatasetSize(dataset.parse_size(label))
        print(f"{size.label}:", flush=True)
        with databases.exclusive(base, args.prefix):
            loaded = databases.prepare(base, size, prefix=args.prefix)
        with psycopg.connect(loaded.url) as conn:
            token = conn.execute(
                "SELECT t.key FROM authtoken_token t JOIN leads_user u ON u.id = t.user_id WHERE u.username = %s",
                [dataset.MANAGER_USERNAME],
            ).fetchone()[0]
        # Reads only: the loaded database itself, no copy. Redis (the cache, the rate
        # limit) as in production when this machine runs it, as bench/RESULTS.md does.
        redis_url = servers.bench_redis_url(REDIS_DB)
        if servers.redis_reachable(redis_url):
            servers.flush_redis(redis_url)
        else:
            redis_url = CLOSED_REDIS_URL
        print(f"  Redis: {'none' if redis_url == CLOSED_REDIS_URL else redis_url}", flush=True)
        env = servers.app_environment(loaded.url, redis_url)
        app = servers.Gunicorn(f"app-{size.label}", "leadmgmt.wsgi:application", env)
        floor = servers.Gunicorn(
            f"floor-{size.label}", "bench.floor:application", {**env, "BENCH_FLOOR_DATABASE_URL": loaded.url}
        )
        rows = []
        try:
            for case, query in cases(loaded.url):
                figures = measure(app, floor, token, query, repeat=args.repeat)
                rows.append({"case": case, "query": query, **figures})
                flag = "" if figures["ratio"] <= TARGET_RATIO else f"  <-- over {TARGET_RATIO}x"
                print(
                    f"  {case:<32} found {figures['found']:>7}  app p50 {figures['app_p50_ms']:>7.1f} ms"
                    f" (max {figures['app_max_ms']:>7.1f})  floor {figures['floor_p50_ms']:>6.1f} ms"
                    f"  {figures['ratio']:>4.2f}x{flag}",
                    flush=True,
                )
        finally:
            app.stop()
            floor.stop()
        out = ROOT / "artifacts" / "bench" / f"filters-{size.label}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"counts": loaded.counts, "load": os.getloadavg(), "rows": rows}, indent=2))
        print(f"  written {out.relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main()
