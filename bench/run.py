"""The harness: ``python -m bench [--quick] [--sizes 10k,1m] [--output bench/RESULTS.md]``.

For each size: load (or reuse) the data set, copy it for this run, serve the app
and the floor under gunicorn (2 workers each), drive every operation against
both, count each operation's SQL queries, run the CSV import against its COPY
floor, and measure the after-save pipeline with one and then two Celery worker
processes. Then write the markdown report.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

import psycopg

from bench import databases, dataset, loadgen, pipeline, redis_down, report, servers
from bench.loadgen import Call
from bench.operations import API, BATCH_SIZE, OPERATIONS, QUERY_ONLY, Context, Operation, batch_call, lead_payload

BIG_IMPORT_ROWS = 100_000
WARMUP_REQUESTS = 5
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


@dataclass(frozen=True)
class Mode:
    name: str
    sizes: tuple[int, ...]
    read_requests: int
    write_requests: int
    op_seconds: float  # a cap per operation and side, for operations far slower than expected
    concurrency: int
    import_rows: int
    pipeline_burst: int
    pipeline_seconds: float
    pipeline_rate: float
    pipeline_workers: tuple[int, ...]
    batch_requests: int


FULL = Mode(
    name="full",
    sizes=(10_000, 1_000_000),
    read_requests=300,
    write_requests=200,
    op_seconds=20,
    concurrency=2,
    import_rows=BIG_IMPORT_ROWS,  # the whole 100k file (~2-4 min per size); quick mode imports 150 rows
    pipeline_burst=1000,  # a batch-processing worker drains 100 in a fraction of a second: too short to time
    pipeline_seconds=5,
    pipeline_rate=50,
    pipeline_workers=(1, 2),
    batch_requests=3,
)
QUICK = replace(
    FULL,
    name="quick",
    sizes=(10_000,),
    read_requests=60,
    write_requests=40,
    op_seconds=6,
    import_rows=150,
    pipeline_burst=40,
    pipeline_seconds=2,
    batch_requests=1,
)


def log(message: str) -> None:
    print(message, flush=True)


def run(mode: Mode, *, output: Path, prefix: str = "leadmgmt_bench", redis_db: int = 12) -> dict:
    """Measure every size of ``mode``; writes ``output`` and returns the results."""
    base = databases.server_url()
    redis_url = servers.bench_redis_url(redis_db)
    results: dict = {
        "machine": report.machine(base),
        "mode": asdict(mode),
        "started": time.time(),
        "sizes": {},
        "redis": redis_url if servers.redis_reachable(redis_url) else None,
    }
    with databases.exclusive(base, prefix):
        results["sizes"] = measure(mode, base, redis_url=results["redis"], prefix=prefix)
    results["finished"] = time.time()
    results["machine"]["load_average_end"] = os.getloadavg()
    servers.LOG_DIR.mkdir(parents=True, exist_ok=True)
    (servers.LOG_DIR / "results.json").write_text(json.dumps(results, indent=2, default=str))
    output.write_text(report.render(results))
    log(f"Wrote {output}")
    return results


@dataclass
class SizeRun:
    """One size's database copy, servers and figures during a run."""

    size: dataset.DatasetSize
    base: str
    run_url: str = ""
    ctx: Context | None = None
    env: dict = field(default_factory=dict)
    app: servers.Gunicorn | None = None
    floor: servers.Gunicorn | None = None
    found: dict = field(default_factory=dict)

    def stop(self) -> None:
        for process in (self.floor, self.app):
            if process is not None:
                process.stop()
        self.app = self.floor = None
        if self.run_url:
            databases.drop(databases.database_url(self.base, "postgres"), self.run_url.rsplit("/", 1)[1])
            self.run_url = ""


def measure(mode: Mode, base: str, *, redis_url: str | None, prefix: str) -> dict:
    """Every figure for every size. The sizes' servers run side by side and each
    operation is measured on every size back to back, so a 1m/10k ratio compares
    requests made within the same minute of a shared machine."""
    runs = [SizeRun(dataset.DatasetSize(leads), base) for leads in mode.sizes]
    try:
        for run_ in runs:
            log(f"== {run_.size.leads:,} leads: data ==")
            _prepare(run_, redis_url=redis_url, prefix=prefix)
        for run_ in runs:
            run_.app = servers.Gunicorn(f"app-{run_.size.label}", "leadmgmt.wsgi:application", run_.env)
            run_.floor = servers.Gunicorn(
                f"floor-{run_.size.label}",
                "bench.floor:application",
                {**run_.env, "BENCH_FLOOR_DATABASE_URL": run_.run_url},
            )
        log("== requests (app, then floor; each size in turn) ==")
        for op in OPERATIONS:
            for run_ in runs:
                run_.found.setdefault("operations", {})[op.key] = _measure_operation(mode, op, run_)
        for run_ in runs:
            run_.found["batch"] = _measure_batch(mode, run_)
            run_.found["cursor"] = _probe_cursor(run_.ctx, run_.app)
            run_.floor.stop()
            run_.floor = None
        for run_ in runs:
            log(f"== {run_.size.leads:,} leads: writes with Redis up, then with Redis down ==")
            run_.found["redis_down"] = redis_down.measure(
                label=run_.size.label,
                env=run_.env,
                ctx=run_.ctx,
                count=mode.write_requests,
                concurrency=mode.concurrency,
                max_seconds=mode.op_seconds,
                log=log,
            )
        for run_ in runs:
            log(f"== {run_.size.leads:,} leads: queries, import, pipeline ==")
            run_.found["queries"] = _count_queries(run_.ctx, run_.env)
            log(f"  CSV import of {mode.import_rows:,} rows, and its COPY floor ...")
            run_.found["import"] = _run_import(mode, run_.env)
            if redis_url:
                run_.found["pipeline"] = _measure_pipeline(mode, run_, redis_url)
            else:
                run_.found["pipeline"] = {"skipped": "Redis is not reachable: the pipeline needs a broker and a worker"}
    finally:
        for run_ in runs:
            run_.stop()
    return {run_.size.label: run_.found for run_ in runs}


def _prepare(run_: SizeRun, *, redis_url: str | None, prefix: str) -> None:
    loaded = databases.prepare(run_.base, run_.size, prefix=prefix, log=log)
    run_.found["load"] = {"reused": loaded.reused, "seconds": loaded.load_seconds, "rows": loaded.counts}
    started = time.monotonic()
    run_.run_url = databases.fresh_copy(run_.base, loaded)
    run_.found["copy_seconds"] = time.monotonic() - started
    run_.ctx = _context(run_.run_url)
    # Without Redis the saves meet a closed port and leave their jobs for the sweeper,
    # as in production with the broker down (not run in-process inside the request).
    run_.env = servers.app_environment(run_.run_url, redis_url or CLOSED_REDIS_URL)


def _context(run_url: str) -> Context:
    with psycopg.connect(run_url, autocommit=True) as conn:
        tokens = dict(
            conn.execute(
                """SELECT u.username, t.key FROM authtoken_token t JOIN leads_user u ON u.id = t.user_id
                   WHERE u.username IN (%s, 'bench_agent_001')""",
                [dataset.MANAGER_USERNAME],
            ).fetchall()
        )
        total = conn.execute("SELECT max(id) FROM leads_lead").fetchone()[0]
        step = max(1, total // 4000)
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT public_id FROM leads_lead WHERE id %% %s = 0 ORDER BY id LIMIT 4000", [step]
            ).fetchall()
        ]
        cursors = {depth: _cursor_at(conn, offset) for depth, offset in (("page500", 9_980), ("last", total - 20))}
    secrets.SystemRandom().shuffle(ids)
    return Context(tokens[dataset.MANAGER_USERNAME], tokens["bench_agent_001"], ids, secrets.token_hex(4), cursors)


def _cursor_at(conn, offset: int) -> str:
    """The next_cursor the API hands out after the first ``offset`` leads (newest first)."""
    from leads.core.pagination import encode_cursor

    live = "SELECT created_at, id FROM leads_lead WHERE archived_at IS NULL"
    row = conn.execute(f"{live} ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1", [max(0, offset - 1)]).fetchone()
    if row is None:  # a data set smaller than the depth: the oldest lead
        row = conn.execute(f"{live} ORDER BY created_at, id LIMIT 1").fetchone()
    return encode_cursor(SimpleNamespace(created_at=row[0], pk=row[1]))


def _measure_operation(mode: Mode, op: Operation, run_: SizeRun) -> dict:
    count = mode.write_requests if op.writes else mode.read_requests
    found = {"title": op.title, "writes": op.writes}
    ctx = run_.ctx
    for side, server, make in (("app", run_.app, op.app), ("floor", run_.floor, op.floor)):
        if make is None:
            continue
        warm = lambda index, make=make: make(ctx, 1_000_000 + index)  # noqa: E731 (distinct rows for writes)
        loadgen.drive(server.address, warm, count=WARMUP_REQUESTS, concurrency=1, max_seconds=min(5, mode.op_seconds))
        measured = loadgen.drive(
            server.address,
            lambda index, make=make: make(ctx, index),
            count=count,
            concurrency=mode.concurrency,
            max_seconds=mode.op_seconds,
        )
        found[side] = measured.as_dict()
    app_p50, floor_p50 = found["app"]["p50_ms"], found.get("floor", {}).get("p50_ms")
    ratio = f"{app_p50 / floor_p50:.1f}x floor" if app_p50 and floor_p50 else ""
    log(
        f"  {run_.size.label:>4} {op.title:45} p50 {_ms(app_p50)}  p99 {_ms(found['app']['p99_ms'])}  "
        f"{found['app']['rps'] or 0:6.1f} req/s  {ratio}  errors {found['app']['errors']}"
    )
    return found


def _ms(value: float | None) -> str:
    return f"{value:8.1f} ms" if value is not None else "     n/a   "


def _measure_batch(mode: Mode, run_: SizeRun) -> dict:
    """POST /api/v2/leads/batch with 500 leads, if the app has it."""
    ctx, app = run_.ctx, run_.app
    make = lambda index: batch_call(ctx, index)  # noqa: E731
    probe = loadgen.send_one(app.address, make(0))
    if probe.status in (404, 405):
        log(f"  {run_.size.label:>4} batch create of {BATCH_SIZE}: not implemented (HTTP {probe.status})")
        return {"implemented": False, "status": probe.status, "body": probe.body[:300].decode(errors="replace")}
    if probe.status not in (200, 201, 207):
        log(f"  {run_.size.label:>4} batch create of {BATCH_SIZE}: HTTP {probe.status}")
        return {"implemented": True, "status": probe.status, "body": probe.body[:300].decode(errors="replace")}
    measured = loadgen.drive(
        app.address,
        lambda index: make(index + 1),
        count=mode.batch_requests,
        concurrency=1,
        max_seconds=mode.op_seconds * 4,
    )
    counts = probe.json().get("counts") if probe.body.startswith(b"{") else None
    log(f"  {run_.size.label:>4} batch create of {BATCH_SIZE}: p50 {_ms(measured.p50_ms)}; counts {counts}")
    return {"implemented": True, "status": probe.status, "counts": counts, **measured.as_dict()}


def _probe_cursor(ctx: Context, app) -> dict:
    """Does the list offer cursor pagination (a cursor in the response, ?cursor= accepted)?"""
    reply = loadgen.send_one(app.address, Call("GET", f"{API}?page_size=5", token=ctx.manager_token))
    keys = sorted(key for key in (reply.json() if reply.status == 200 else {}) if "cursor" in key or key == "next")
    return {"implemented": bool(keys), "keys": keys}


def _count_queries(ctx: Context, env: dict[str, str]) -> dict:
    calls = []
    for op in (*OPERATIONS, *QUERY_ONLY):
        specs = {}
        for attempt, index in (("warm", 2_000_000), ("counted", 2_000_001)):
            call = op.app(ctx, index)
            specs[attempt] = {
                "method": call.method,
                "path": call.path,
                "body": call.body.decode() if call.body else None,
                "token": call.token,
            }
        calls.append({"key": op.key, **specs})
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(calls, handle)
    try:
        output = _run_python(["-m", "bench.querycount", handle.name], env, timeout=600)
    finally:
        os.unlink(handle.name)
    return json.loads(output)


def _run_import(mode: Mode, env: dict[str, str]) -> dict:
    output = _run_python(
        ["-m", "bench.import_run", str(mode.import_rows), str(BIG_IMPORT_ROWS)], env, timeout=max(600, mode.import_rows)
    )
    found = json.loads(output)
    app, floor = found["app"], found["floor"]
    log(
        f"  import: app {app['rows_per_second']:.0f} rows/s, COPY floor {floor['rows_per_second']:.0f} rows/s, "
        f"RSS {app['rss_start_mb']:.0f} -> peak {app['rss_peak_mb']:.0f} MB; "
        f"{BIG_IMPORT_ROWS:,}-row file accepted: {found['big_file']['accepted']}"
    )
    return found


def _measure_pipeline(mode: Mode, run_: SizeRun, redis_url: str) -> dict:
    found = {}
    env, app, run_url, ctx, size = run_.env, run_.app, run_.run_url, run_.ctx, run_.size
    # The checkout may have gained migrations since the servers started (it is shared
    # with other engineers); the worker imports the models as they are now.
    databases.migrate(run_url)
    # Scaling is shown once, at the largest size; smaller sizes run one worker process.
    largest = size.leads == max(mode.sizes)
    for processes in mode.pipeline_workers if largest else mode.pipeline_workers[:1]:
        servers.flush_redis(redis_url)  # the saves of the HTTP runs left their jobs queued
        _drop_pipeline_backlog(run_url)
        log(f"  pipeline with {processes} worker process(es) ...")
        measured = pipeline.measure(
            app.address,
            run_url,
            redis_url,
            ctx.manager_token,
            lead_payload,
            start_worker=lambda processes=processes: servers.CeleryWorker(
                f"celery-{size.label}-{processes}", env, processes=processes
            ),
            burst=mode.pipeline_burst,
            paced_seconds=mode.pipeline_seconds,
            rate=mode.pipeline_rate,
        )
        burst, paced = measured["burst"], measured["paced"]
        unloaded = measured.get("unloaded")
        throughput = (
            f"throughput {burst['scored_per_second']:.1f} leads scored/s "
            if burst["scored_per_second"]
            else f"all {burst['done']} leads scored within one poll (too quick to time) "
        )
        log(
            f"    {throughput}"
            f"({burst['all_tasks_per_second'] or 0:.1f}/s with the follow-on tasks); "
            f"at {paced['target_rate']:.0f}/s (achieved {paced['achieved_rate'] or 0:.1f}/s) latency "
            f"p50 {_ms(paced['p50_ms'])} p95 {_ms(paced['p95_ms'])}"
            + (f"; at {unloaded['target_rate']:.1f}/s p95 {_ms(unloaded['p95_ms'])}" if unloaded else "")
            + f"; API shows {paced['api_check']}"
        )
        found[str(processes)] = measured
    return found


def _drop_pipeline_backlog(run_url: str) -> None:
    """Set aside the after-save work of the earlier steps (the HTTP runs' saves, the
    100k-row import), which no worker ran: their lead events not yet relayed and their
    pending jobs. A worker takes waiting events and queued jobs into its batches, and the
    pipeline figures are for the saves made while it is measured."""
    with psycopg.connect(run_url, autocommit=True) as conn:
        conn.execute("UPDATE leads_leadevent SET relayed_at = now() WHERE relayed_at IS NULL")
        conn.execute("UPDATE integrations_pipelinejob SET status = 'superseded' WHERE status = 'pending'")


def _run_python(args: list[str], env: dict[str, str], *, timeout: float) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=databases.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout.strip().splitlines()[-1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k leads only, fewer requests (about 3 minutes)")
    parser.add_argument("--sizes", help="comma-separated lead counts, e.g. 10k,1m (default: 10k,1m; quick: 10k)")
    parser.add_argument("--requests", type=int, help="requests per read operation (writes: two thirds)")
    parser.add_argument("--output", type=Path, default=databases.ROOT / "bench" / "RESULTS.md")
    parser.add_argument(
        "--render", type=Path, metavar="RESULTS_JSON", help="only write the report again from a run's results.json"
    )
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.sizes:
        mode = replace(mode, sizes=tuple(dataset.parse_size(part) for part in args.sizes.split(",")))
    if args.requests:
        mode = replace(mode, read_requests=args.requests, write_requests=max(1, args.requests * 2 // 3))
    args.mode = mode
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.render:
        args.output.write_text(report.render(json.loads(args.render.read_text())))
        log(f"Wrote {args.output}")
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")
    import django

    django.setup()  # the loader reads table and column names from the models
    started = time.monotonic()
    run(args.mode, output=args.output)
    log(f"Done in {time.monotonic() - started:.0f} s")
