"""Running a harness from its smoke test: ``python -m bench.<module> ...`` in a process of
its own, from the repository root, failing the test with its output when it fails."""

import subprocess
import sys

from bench.databases import ROOT


def run_harness(module: str, *args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
