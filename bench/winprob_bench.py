"""The chance-to-close model at scale (issue 13): N history leads with outcomes from the
documented hidden process (``integrations.winprob.history``) on PostgreSQL, then one
training run (features by SQL aggregates, fit, calibration, backtest against the rule-based
score) and the scoring of every open lead.

    .venv/bin/python -m bench.winprob_bench --leads 100000

Needs PostgreSQL (DATABASE_URL's server or 127.0.0.1:5432 as postgres); the bench creates
the database ``--db-name`` afresh (``--keep`` reuses it when it already holds the data).
Each step runs in its own process, so its peak memory (max RSS) is its own. Prints and
writes artifacts/bench/winprob-<N>.json: seconds to load, to train and to score the open
leads, the training's peak memory, one lead's scoring time, and AUC and Brier of the model
and of the rule-based score on the same held-out leads.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench.databases import database_url, has_leads, server_url

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

SETUP = """
import os, json, resource, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")
import django
django.setup()
"""

LOAD = (
    SETUP
    + """
from integrations.winprob import history
started = time.monotonic()
history.generate({leads}, days=720, seed=13, batch=5000)
print(json.dumps({{"load_seconds": round(time.monotonic() - started, 1)}}))
"""
)

TRAIN = (
    SETUP
    + """
from integrations.winprob import training
record = training.train_model()
print(json.dumps({{
    "version": record.version, "status": record.status, "decision": record.decision,
    "train_seconds": record.training_seconds, "rows": record.rows, "won_rows": record.won_rows,
    "train_rows": record.train_rows, "holdout_rows": record.holdout_rows,
    "model": {{k: record.metrics["model"][k] for k in ("auc", "brier", "calibration_error", "leads", "won")}}
        if record.metrics else None,
    "rules": {{k: record.metrics["rules"][k] for k in ("auc", "brier", "calibration_error", "leads", "won")}}
        if record.metrics else None,
    "top_decile": [record.metrics["model"]["deciles"][0], record.metrics["rules"]["deciles"][0]]
        if record.metrics else None,
    "train_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}}))
"""
)

SCORE = (
    SETUP
    + """
import numpy as np
from integrations.winprob import services
from integrations.winprob.features import FEATURE_NAMES
started = time.monotonic()
scored = services.predict_open_leads()
seconds = time.monotonic() - started
scorer, _, _ = services.scorer_in_use()
row = np.zeros((1, len(FEATURE_NAMES)))
runs = 2000
t = time.perf_counter()
for _ in range(runs):
    scorer.probability(row)
one = (time.perf_counter() - t) / runs
print(json.dumps({{
    "scored_open_leads": scored, "score_seconds": round(seconds, 1),
    "one_lead_microseconds": round(one * 1e6, 1),
    "score_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}}))
"""
)


def run_step(code: str, env: dict) -> dict:
    done = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"step failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100000)
    parser.add_argument("--db-name", default="leadmgmt_winprob_bench")
    parser.add_argument("--keep", action="store_true", help="reuse the database when it already holds the leads")
    args = parser.parse_args()

    server = server_url()
    url = database_url(server, args.db_name)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "leadmgmt.settings"}
    env.pop("REDIS_URL", None)  # no broker: nothing is queued, everything runs here
    result: dict = {"leads": args.leads}
    fresh = not (args.keep and has_leads(url, args.leads))
    if fresh:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(args.db_name)))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.db_name)))
        subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        print(f"Loading {args.leads} history leads...", flush=True)
        result.update(run_step(LOAD.format(leads=args.leads), env))
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
    print("Training...", flush=True)
    started = time.monotonic()
    result.update(run_step(TRAIN.format(), env))
    result["train_wall_seconds"] = round(time.monotonic() - started, 1)
    print("Scoring the open leads...", flush=True)
    result.update(run_step(SCORE.format(), env))
    with psycopg.connect(url) as connection:
        counts = connection.execute(
            "SELECT (SELECT count(*) FROM leads_lead), (SELECT count(*) FROM leads_interaction), "
            "(SELECT count(*) FROM leads_statuschange)"
        ).fetchone()
    result["tables"] = {"leads": counts[0], "interactions": counts[1], "status_changes": counts[2]}
    result["load_average"] = os.getloadavg()
    out = ROOT / "artifacts" / "bench" / f"winprob-{args.leads}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
