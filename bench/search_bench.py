"""Free-text search at scale (issue 16): ``GET /api/v2/leads?search=...`` timed in-process
against the raw-SQL floor of the same query, on the bench dataset (``bench.dataset``).

    .venv/bin/python -m bench.search_bench --sizes 1m
    .venv/bin/python -m bench.search_bench --sizes 10k,1m --repeat 21

Needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432 as postgres); reuses the main bench's
loaded databases (``leadmgmt_bench_<size>``). For each search (a last name, a first-name
prefix, a full name, an email, the last four digits and the whole of a phone number), as
the manager who sees every lead and as one agent: warm-up, then ``--repeat`` runs of the
app (Django test client, token auth, the whole API view: count, page of 20, representation)
and of the floor (the same count and page in two raw statements through psycopg on one
open connection, rows as dicts, no JSON). Prints p50 and the ratio; writes
artifacts/bench/search-<size>.json (bench/SEARCH.md keeps the figures of record)."""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from bench import databases, dataset  # noqa: E402

TARGET_MS = 30
PAGE = 20
FLOOR_COUNT = """
SELECT count(*) FROM leads_lead l JOIN leads_contact c ON c.lead_id = l.id
WHERE l.archived_at IS NULL {visibility} AND c.search_document @@ to_tsquery('simple', %s)
"""
FLOOR_PAGE = """
SELECT l.*, c.* FROM leads_lead l JOIN leads_contact c ON c.lead_id = l.id
WHERE l.archived_at IS NULL {visibility} AND c.search_document @@ to_tsquery('simple', %s)
ORDER BY l.created_at DESC, l.id DESC LIMIT %s
"""


def searches(url: str) -> list[tuple[str, str]]:
    """Searches a user would type, taken from the loaded data so each finds something."""
    with psycopg.connect(url) as conn:
        first, last, email, phone = conn.execute(
            "SELECT first_name, last_name, email, phone FROM leads_contact ORDER BY lead_id DESC LIMIT 1"
        ).fetchone()
    return [
        ("last name", dataset.SEARCH_TERM),
        ("first-name prefix", first[:3].lower()),
        ("full name", f"{first} {last}"),
        ("email", email),
        ("phone, last 4 digits", phone[-4:]),
        ("phone, whole", f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"),
    ]


def _ms(run, repeat: int) -> list[float]:
    run()  # warm-up
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def measure(url: str, user, search: str, *, repeat: int) -> dict:
    from rest_framework.authtoken.models import Token

    from leads.core.search import _terms, _tsquery

    token, _ = Token.objects.get_or_create(user=user)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    path = "/api/v2/leads"

    def app():
        response = client.get(path, {"search": search, "page_size": PAGE})
        assert response.status_code == 200, response.content[:300]
        return response.json()

    body = app()
    with CaptureQueriesContext(connection) as captured:
        app()
    queries = len(captured.captured_queries)  # now: the next request clears the log
    tsquery = _tsquery(_terms(search))
    visibility, params = ("", []) if user.role != "agent" else ("AND l.assigned_to_id = %s", [user.pk])
    with psycopg.connect(url, row_factory=dict_row) as conn:

        def floor():
            conn.execute(FLOOR_COUNT.format(visibility=visibility), [*params, tsquery]).fetchone()
            return conn.execute(FLOOR_PAGE.format(visibility=visibility), [*params, tsquery, PAGE]).fetchall()

        floor_rows = floor()
        floor_ms = _ms(floor, repeat)
    app_ms = _ms(app, repeat)
    assert [lead["id"] for lead in body["leads"]] == [row["public_id"] for row in floor_rows], "app and floor differ"
    return {
        "found": body["total_count"],
        "app_p50_ms": round(statistics.median(app_ms), 1),
        "app_max_ms": round(max(app_ms), 1),
        "floor_p50_ms": round(statistics.median(floor_ms), 1),
        "ratio": round(statistics.median(app_ms) / statistics.median(floor_ms), 1),
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1m", help="comma-separated: 10k, 100k, 1m")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    from django.conf import settings

    from leads.models import Role, User

    settings.ALLOWED_HOSTS = ["*"]
    results = {}
    for label in args.sizes.split(","):
        size = dataset.DatasetSize(dataset.parse_size(label))
        print(f"{size.label}:")
        with databases.exclusive(base, "leadmgmt_bench"):
            loaded = databases.prepare(base, size)
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = loaded.name
        manager = User.objects.get(role=Role.MANAGER)
        agent = User.objects.filter(role=Role.AGENT).order_by("pk").first()
        rows = []
        for case, search in searches(loaded.url):
            for viewer in (manager, agent):
                figures = measure(loaded.url, viewer, search, repeat=args.repeat)
                rows.append({"case": case, "search": search, "viewer": viewer.role, **figures})
                flag = "" if figures["app_p50_ms"] <= TARGET_MS else f"  <-- over {TARGET_MS} ms"
                print(
                    f"  {case:<22} {search!r:<34} {viewer.role:<8} found {figures['found']:>6}"
                    f"  app p50 {figures['app_p50_ms']:>6.1f} ms (max {figures['app_max_ms']:>6.1f})"
                    f"  floor {figures['floor_p50_ms']:>5.1f} ms  {figures['ratio']:>4.1f}x"
                    f"  {figures['queries']} queries{flag}"
                )
        results[size.label] = {"counts": loaded.counts, "rows": rows}
        out = ROOT / "artifacts" / "bench" / f"search-{size.label}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results[size.label], indent=2, default=str))
        print(f"  written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
