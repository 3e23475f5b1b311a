"""The routing harness runs end to end on a few leads and writes its figures (no timing
thresholds; the exact-one-winner and share figures must hold at any size)."""

import json
import os

import pytest

from bench.smoke import run_harness

pytestmark = pytest.mark.postgres


def test_the_routing_harness_writes_every_figure(tmp_path):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs in the PostgreSQL pass")
    output, raw = tmp_path / "ROUTING.md", tmp_path / "routing.json"

    run_harness(
        "routing_run",
        *("--sizes", "20,110,5", "--database", "leadmgmt_bench_routing_smoke"),
        *("--output", str(output), "--json", str(raw)),
    )

    report = output.read_text()
    for figure in ("routing time per lead", "round robin over 110 leads", "first to claim, 10 agents racing"):
        assert figure in report
    found = json.loads(raw.read_text())
    assert found["claim_race"]["exactly_one_winner"] == 5
    assert found["round_robin"]["max_deviation_points"] == 0  # 110 leads: two whole rounds of weights 1..10
