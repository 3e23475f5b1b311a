"""Reports at scale (issue 15): each report of ``leads.reports`` timed in-process on
PostgreSQL against the bench dataset (``bench.dataset``: leads over three years with
their status history and about five interactions each), with closed deals for the
closed leads and 37 months of spend per source added here with SQL.

    .venv/bin/python -m bench.reports_bench --sizes 1m
    .venv/bin/python -m bench.reports_bench --sizes 100k,1m --repeat 7

Needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432 as postgres). The loaded database
``leadmgmt_reports_bench_<size>`` is reused by later runs (``bench.databases``).
For each report and case (range and filters), as the manager who sees every lead and
as one agent: one warm-up run, then ``--repeat`` timed runs; the median and the
slowest, and the queries one run makes. Writes artifacts/bench/reports-<size>.json
and prints a Markdown table (bench/REPORTS.md keeps the figures of record)."""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")
# PostgreSQL for this process too (the reports run here); pointed at the loaded database later.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import databases, dataset  # noqa: E402

TARGET_MS = 500
DEALS_SQL = """
INSERT INTO leads_deal (created_at, updated_at, lead_id, agent_id, property_address, price, commission_rate,
                        commission_amount, team_split, team_commission, stage, contract_date, closed_on, created_by_id)
SELECT sc.changed_at, sc.changed_at, l.id, l.assigned_to_id, 'Bench ' || l.id || ' Main St', d.price, 2.5, NULL,
       d.split, round(d.price * 0.025 * d.split / 100, 2), 'closed', NULL, (sc.changed_at AT TIME ZONE 'UTC')::date,
       NULL
FROM leads_lead l
JOIN leads_statuschange sc ON sc.lead_id = l.id AND sc.to_status = 'closed'
CROSS JOIN LATERAL (SELECT (300000 + (l.id % 50) * 20000)::numeric AS price, (60 + (l.id % 3) * 10)::numeric AS split) d
WHERE l.status = 'closed'
"""
SPEND_SQL = """
INSERT INTO leads_sourcespend (created_at, updated_at, team_id, source, month, amount, recorded_by_id)
SELECT now(), now(), NULL, source, month::date, 500 + (abs(hashtext(source || month::text)) %% 2500), NULL
FROM unnest(%s::text[]) AS source,
     generate_series(date_trunc('month', now() - interval '36 months'), date_trunc('month', now()), interval '1 month')
       AS month
"""


def add_deals_and_spend(url: str, log=print) -> dict[str, int]:
    """Closed deals for the closed leads and spend per source and month, once."""
    from leads.models import LeadSource

    with psycopg.connect(url, autocommit=True) as conn:
        deals = conn.execute("SELECT count(*) FROM leads_deal").fetchone()[0]
        if not deals:
            started = time.monotonic()
            conn.execute(DEALS_SQL)
            conn.execute(SPEND_SQL, [list(LeadSource.values)])
            conn.execute("VACUUM ANALYZE leads_deal")
            conn.execute("ANALYZE leads_sourcespend")
            log(f"  deals and spend added in {time.monotonic() - started:.1f} s")
        return {
            "deals": conn.execute("SELECT count(*) FROM leads_deal").fetchone()[0],
            "spend": conn.execute("SELECT count(*) FROM leads_sourcespend").fetchone()[0],
        }


def use_database(name: str) -> None:
    """Point this process's Django connection at ``name``."""
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = name


def cases(agent_username: str) -> list[tuple[str, dict]]:
    today = timezone.localdate()

    def last(days: int) -> dict:
        return {"start": (today - timedelta(days=days - 1)).isoformat(), "end": today.isoformat()}

    return [
        ("30 days", last(30)),
        ("90 days", last(90)),
        ("365 days", last(365)),
        ("90 days, source zillow", {**last(90), "source": "zillow"}),
        ("90 days, buyers", {**last(90), "lead_type": "buyer"}),
        ("90 days, one agent", {**last(90), "agent": agent_username}),
    ]


def time_report(name: str, user, params: dict, *, repeat: int) -> dict:
    from leads.reports import registry
    from leads.reports.filters import parse_filters

    def run():
        filters = parse_filters(user, params)
        return registry.build(name, filters)

    run()  # warm-up: the same buffers a busy server would have
    timings = []
    for _ in range(repeat):
        connection.queries_log.clear()  # a full log (its maxlen) would miscount the captured queries
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            report = run()
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(timings), 1),
        "max_ms": round(max(timings), 1),
        "queries": len(queries),
        "rows": len(report.rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1m", help="comma-separated: 10k, 100k, 1m")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--prefix", default="leadmgmt_reports_bench", help="of the loaded databases' names")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    from leads.models import Role, User

    results = {}
    for label in args.sizes.split(","):
        size = dataset.DatasetSize(dataset.parse_size(label))
        print(f"{size.label}:")
        with databases.exclusive(base, args.prefix):
            loaded = databases.prepare(base, size, prefix=args.prefix)
        extra = add_deals_and_spend(loaded.url)
        use_database(loaded.name)
        manager = User.objects.get(role=Role.MANAGER)
        agent = User.objects.filter(role=Role.AGENT).order_by("pk").first()
        rows = []
        for report in ("funnel", "sources", "agents", "stages"):
            for case, params in cases(agent.username):
                for viewer in (manager, agent):
                    if viewer is agent and "agent" in params:
                        continue
                    figures = time_report(report, viewer, params, repeat=args.repeat)
                    row = {"report": report, "case": case, "viewer": viewer.role, **figures}
                    rows.append(row)
                    flag = "" if figures["max_ms"] < TARGET_MS else "  <-- over 500 ms"
                    print(
                        f"  {report:<8} {case:<24} {viewer.role:<8} median {figures['median_ms']:>7.1f} ms"
                        f"  max {figures['max_ms']:>7.1f} ms  {figures['queries']} queries{flag}"
                    )
        results[size.label] = {"counts": {**loaded.counts, **extra}, "load_seconds": loaded.load_seconds, "rows": rows}
        out = ROOT / "artifacts" / "bench" / f"reports-{size.label}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results[size.label], indent=2, default=str))
        print(f"  written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
