"""The filters bench runs end to end on a tiny data set (no timing thresholds): the app and
the floor, each under gunicorn, answer every filter and sort key with the same leads in
the same order and the same total (the bench asserts it before timing)."""

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.floor import SORT_COLUMNS
from bench.smoke import run_harness
from bench.test_bench_smoke import postgres_url  # noqa: F401  (the fixture)

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[1]


def test_the_filters_bench_times_every_filter_and_sort_key_on_app_and_floor(postgres_url):  # noqa: F811
    own_name = urlsplit(postgres_url).path.lstrip("/") or "leadmgmt"
    env = {**os.environ, "DATABASE_URL": postgres_url}

    run_harness("filters_bench", "--sizes", "300", "--repeat", "1", "--prefix", f"{own_name}_filters_smoke", env=env)
    figures = json.loads((ROOT / "artifacts" / "bench" / "filters-300.json").read_text())
    queries = [row["query"] for row in figures["rows"]]
    filtered = {name for query in queries for name in query if name != "ordering"}
    assert filtered == {
        "status", "lead_type", "source", "urgency", "assigned_to", "location",
        "score_min", "score_max", "created_after", "created_before",
    }  # fmt: skip
    orderings = {query["ordering"] for query in queries if "ordering" in query}
    assert orderings | {"-created_at"} == {key for name in SORT_COLUMNS for key in (name, f"-{name}")}
    assert all(row["app_p50_ms"] > 0 and row["floor_p50_ms"] > 0 for row in figures["rows"])
    assert any(row["found"] > 0 for row in figures["rows"] if row["query"].get("location"))
