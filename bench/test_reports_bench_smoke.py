"""The reports bench runs end to end on a tiny data set (no timing thresholds): the
load, the deals and spend added with SQL, and every report timed for both viewers."""

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from bench.databases import database_url
from bench.smoke import run_harness
from bench.test_bench_smoke import postgres_url  # noqa: F401  (the fixture)
from leads.reports.activity import COUNTED_POSTGRESQL

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[1]


def test_the_reports_bench_times_every_report_on_a_tiny_data_set(postgres_url):  # noqa: F811
    own_name = urlsplit(postgres_url).path.lstrip("/") or "leadmgmt"
    env = {**os.environ, "DATABASE_URL": postgres_url}

    run_harness("reports_bench", "--sizes", "200", "--repeat", "1", "--prefix", f"{own_name}_reports_smoke", env=env)
    figures = json.loads((ROOT / "artifacts" / "bench" / "reports-200.json").read_text())
    assert {row["report"] for row in figures["rows"]} == {"funnel", "sources", "agents", "stages"}
    assert {row["viewer"] for row in figures["rows"]} == {"manager", "agent"}
    assert figures["counts"]["lead"] == 200 and figures["counts"]["deals"] > 0
    assert all(row["median_ms"] > 0 and row["queries"] >= 1 for row in figures["rows"])
    # and the loader's activity tallies (its COPY runs with triggers off) equal a recount
    with psycopg.connect(database_url(postgres_url, f"{own_name}_reports_smoke_200")) as conn:
        tallied = "SELECT span, starts_on, agent_key, type, n FROM leads_activitytally WHERE n <> 0"
        differing = conn.execute(
            f"({tallied} EXCEPT {COUNTED_POSTGRESQL}) UNION ALL ({COUNTED_POSTGRESQL} EXCEPT {tallied})"
        ).fetchall()
        assert conn.execute(tallied).fetchall() and differing == []
