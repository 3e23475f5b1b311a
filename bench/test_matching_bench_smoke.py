"""The matching harness runs end to end on a few leads and listings and writes its figures
(no timing thresholds: the index must cut the pairs compared far below N x M)."""

import json
import os
import subprocess
import sys

import pytest

from bench.databases import ROOT

pytestmark = pytest.mark.postgres


def test_the_matching_harness_writes_every_figure():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs in the PostgreSQL pass")

    result = subprocess.run(
        [
            *(sys.executable, "-m", "bench.matching_bench", "--leads", "600", "--listings", "40"),
            *("--places", "20", "--db-name", "leadmgmt_bench_matching_smoke"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads((ROOT / "artifacts" / "bench" / "matching-600x40.json").read_text())
    assert found["changes"] == 40 and found["index_rows"] > 600
    assert 0 < found["pairs_compared"] < found["pairs_naive"] / 10
    assert 0 < found["matches_written"] <= found["pairs_compared"]
