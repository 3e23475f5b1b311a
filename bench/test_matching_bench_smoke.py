"""The matching harness runs end to end on a few leads and listings and writes its figures
(no timing thresholds: the index must cut the pairs compared far below N x M)."""

import json
import os

import pytest

from bench.databases import ROOT
from bench.smoke import run_harness

pytestmark = pytest.mark.postgres


def test_the_matching_harness_writes_every_figure():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs in the PostgreSQL pass")

    run_harness(
        "matching_bench",
        *("--leads", "600", "--listings", "40", "--places", "20", "--db-name", "leadmgmt_bench_matching_smoke"),
    )
    found = json.loads((ROOT / "artifacts" / "bench" / "matching-600x40.json").read_text())
    assert found["changes"] == 40 and found["index_rows"] > 600
    assert 0 < found["pairs_compared"] < found["pairs_naive"] / 10
    assert 0 < found["matches_written"] <= found["pairs_compared"]
