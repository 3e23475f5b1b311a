"""The after-save harness runs end to end at a low rate and reports every stage of every
lead (no timing thresholds: what is asserted is that each stage happened and was timed)."""

import json
import os

import pytest

from bench.smoke import run_harness

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_the_after_save_harness_times_every_stage_of_every_lead(tmp_path):
    if not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")):
        pytest.skip("runs in the PostgreSQL + Redis pass")
    output, raw = tmp_path / "AFTER_SAVE.md", tmp_path / "after_save.json"

    run_harness(
        "after_save",
        *("--rates", "3", "--seconds", "4", "--leads", "60", "--workers", "1"),
        *("--database", "leadmgmt_bench_after_save_smoke", "--output", str(output), "--json", str(raw)),
    )

    [run] = json.loads(raw.read_text())["runs"]
    assert run["saved"] == 12 and run["failed_saves"] == 0
    assert {stage: figures["done"] for stage, figures in run["stages"].items()} == {
        "routed": 12,
        "pushed": 12,
        "scored": 12,
        "crm": 12,
        "webhook": 12,
    }
    assert run["cpu_cores"]["postgresql"] > 0 and run["cpu_cores"]["gunicorn (API)"] > 0
    report = output.read_text()
    assert "| 3 (" in report and "Where the CPU went" in report
