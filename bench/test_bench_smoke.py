"""The harness runs end to end on a tiny data set and writes its results table.

No timing thresholds: CI machines are too noisy for them. What must hold is that
every piece runs (load, app and floor under gunicorn, load generator, query
counts, CSV import, pipeline) and the report names every operation and target.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from conftest import skip_or_fail

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url():
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith("postgres"):
        pytest.skip("runs in the PostgreSQL pass")
    import psycopg

    from bench.databases import database_url

    try:  # the server, not the configured database (pytest-django uses test_<name>)
        psycopg.connect(database_url(configured, "postgres"), connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL is not reachable at {configured}: {exc}")
    return configured


def test_quick_harness_on_a_tiny_data_set_writes_every_figure(postgres_url, tmp_path):
    from bench import run, servers

    # given the quick mode shrunk to 200 leads and a handful of requests
    mode = replace(
        run.QUICK,
        name="smoke",
        sizes=(200,),
        read_requests=3,
        write_requests=2,
        op_seconds=10,
        import_rows=10,
        pipeline_burst=3,
        pipeline_seconds=1,
        pipeline_rate=5,
        pipeline_workers=(1,),
    )
    own_name = urlsplit(postgres_url).path.lstrip("/") or "leadmgmt"
    output = tmp_path / "RESULTS.md"

    # when the harness runs (in a thread of its own: the harness drives its load with
    # asyncio.run, and the browser tests' Playwright may hold this thread's event loop)
    with ThreadPoolExecutor(max_workers=1) as pool:
        results = pool.submit(run.run, mode, output=output, prefix=f"{own_name}_bench_smoke", redis_db=11).result()

    # then every operation answered, on the app and on the floor, with its queries counted
    found = results["sizes"]["200"]
    for key, measured in found["operations"].items():
        expected = mode.write_requests if measured["writes"] else mode.read_requests
        assert measured["app"]["requests"] == expected, key
        assert measured["app"]["errors"] == 0, (key, measured["app"]["first_error"])
        assert measured["floor"]["errors"] == 0, (key, measured["floor"]["first_error"])
        assert found["queries"][key]["queries"] > 0, key
    assert found["import"]["app"]["created"] == mode.import_rows
    if servers.redis_reachable(servers.bench_redis_url(11)):
        assert found["pipeline"]["1"]["burst"]["done"] == mode.pipeline_burst
    # and the writes were measured with Redis up and then down, without an error
    if "skipped" not in found["redis_down"]:
        for state in ("up", "down"):
            for key in ("update", "interaction", "batch"):
                measured = found["redis_down"][state][key]
                assert measured["requests"] > 0 and measured["errors"] == 0, (state, key, measured["first_error"])
    # and the report has the machine, the targets and a row per operation
    text = output.read_text()
    assert "| CPUs (nproc) |" in text
    assert "## Targets" in text
    for title in ("list page 1 (no filter)", "lead detail", "create", "update (PATCH)", "add interaction"):
        assert f"| {title} |" in text
    assert "pipeline save -> scored p95" in text or "Redis is not reachable" in text
    assert "## Writes with Redis down" in text
    assert "| writes with Redis down vs up, p50 (200) |" in text
