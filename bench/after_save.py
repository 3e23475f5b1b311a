"""The whole after-save path at a rising rate of new leads (issue 16, part 2):
``python -m bench.after_save [--rates 20,35,50] [--seconds 60] [--workers 2]``.

Deployed as deploy/systemd runs it, on this machine's two cores: gunicorn (2 sync
workers, production settings), the urgent Celery worker (4 processes: the lead events'
relay, routing, alerts) and the after-save worker (``--workers`` processes, its CPU
weight lowered: analysis, scoring, CRM, workflows, webhooks, plans, matches), on
PostgreSQL and Redis, with 50 agents, 20 routing rules and 10,000 leads already in the
database. The CRM target is a signed-webhook receiver on loopback, a webhook
subscription on every lead event goes to another, and the agents' browsers are
subscribed to a loopback push service that checks each push's VAPID signature and
decrypts it (``bench.routing_push``).

For each rate, new unassigned leads are created through the API at that rate for
``--seconds`` by the load generator (this process, not the app's), and each stage is
timed from the lead's save (the rows' own timestamps): routed, the agent's push
delivered, analysed and scored, the CRM receiving it, the first webhook delivered.
The Redis queues' depth is sampled every second, and the CPU each group of
processes used while the leads were sent is read from /proc. A rate is kept up with
when every stage of every lead was done within ``DRAIN_LIMIT_S`` of the last save
and save -> push p95 is under 2 s.
"""

import argparse
import json
import os
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

from bench import loadgen, routing_push, routing_run, servers
from bench.loadgen import Call, percentile

DRAIN_LIMIT_S = 10.0
LEADS_BEFORE = 10_000
ARTIFACTS = routing_run.ARTIFACTS
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
log = routing_run.log


class LoopbackReceiver:
    """A JSON endpoint on loopback answering 200 (the CRM's signed webhook, the webhook
    subscriber): when each lead (the body's ``lead.id``) first arrived."""

    def __init__(self):
        self.first_at: dict[str, datetime] = {}
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests += 1
                try:
                    lead_id = json.loads(body).get("lead", {}).get("id")
                except ValueError:
                    lead_id = None
                if lead_id:
                    receiver.first_at.setdefault(lead_id, datetime.now(UTC))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "bench"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/leads"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- CPU by group of processes --------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command name, CPU ticks used) of every process now."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), name, int(fields[11]) + int(fields[12]))
    return table


def cpu_by_process(roots: dict[str, int]) -> dict[int, tuple[str, int]]:
    """pid -> (group, CPU ticks used so far) of each process of a group: a root process and
    its descendants, PostgreSQL (every ``postgres`` process), Redis, and this process (the
    load generator, the receivers)."""
    table = _process_table()
    group_of = {pid: name for name, pid in roots.items()}
    found = {}
    for pid, (_parent, name, ticks) in table.items():
        group, cursor, seen = None, pid, set()
        while cursor in table and cursor not in seen:
            seen.add(cursor)
            if cursor in group_of:
                group = group_of[cursor]
                break
            cursor = table[cursor][0]
        if group is None:
            if name == "postgres":
                group = "postgresql"
            elif name.startswith("redis-server"):
                group = "redis"
            elif pid == os.getpid():
                group = "load generator + receivers"
        if group is not None:
            found[pid] = (group, ticks)
    return found


def cores_used(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]], seconds: float, groups):
    """Cores each group used between the two readings (a process that exited meanwhile is
    not counted; one that started is, from zero)."""
    used = dict.fromkeys(groups, 0)
    for pid, (group, ticks) in after.items():
        earlier = before.get(pid)
        used[group] += ticks - (earlier[1] if earlier and earlier[0] == group else 0)
    return {group: ticks / CLOCK_TICKS / seconds for group, ticks in used.items()}


# --- stages -----------------------------------------------------------------------------


def stage_times(lead_ids: list[str], crm: LoopbackReceiver) -> dict[str, dict[str, float]]:
    """Per stage, each lead's seconds from its save to that stage done (leads not there left out)."""
    from integrations.alerts.models import AlertDelivery
    from integrations.models import PipelineJob, PipelineJobStatus
    from integrations.routing.models import RoutingDecision, RoutingTrigger
    from integrations.webhooks.models import WebhookDelivery
    from leads.models import Lead

    rows = list(Lead.objects.filter(public_id__in=lead_ids).values_list("pk", "public_id", "created_at"))
    saved = {pk: created_at for pk, _, created_at in rows}
    public = {pk: public_id for pk, public_id, _ in rows}
    by_public = {public_id: pk for pk, public_id in public.items()}

    def first(rows) -> dict[int, datetime]:
        found = {}
        for lead_pk, at in rows:
            if at is not None and (lead_pk not in found or at < found[lead_pk]):
                found[lead_pk] = at
        return found

    done = {
        "routed": first(
            RoutingDecision.objects.filter(lead_id__in=saved, trigger=RoutingTrigger.ARRIVAL).values_list(
                "lead_id", "created_at"
            )
        ),
        "pushed": first(
            AlertDelivery.objects.filter(alert__lead_id__in=saved, channel="push").values_list(
                "alert__lead_id", "delivered_at"
            )
        ),
        "scored": first(
            PipelineJob.objects.filter(lead_id__in=saved, status=PipelineJobStatus.DONE).values_list(
                "lead_id", "finished_at"
            )
        ),
        "crm": {by_public[key]: at for key, at in crm.first_at.items() if key in by_public},
        "webhook": first(
            (by_public[public_id], at)
            for public_id, at in WebhookDelivery.objects.filter(lead_public_id__in=list(by_public)).values_list(
                "lead_public_id", "delivered_at"
            )
        ),
    }
    return {
        stage: {public[pk]: (at - saved[pk]).total_seconds() for pk, at in times.items() if pk in saved}
        for stage, times in done.items()
    }


def _queue_depths(client: redis.Redis, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue: kombu keeps a list per priority step (``name``,
    then the name, kombu's separator and the step), all counted."""
    from django.conf import settings

    steps = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("priority_steps", [])
    return {
        queue: sum(int(client.llen(key)) for key in [queue, *(f"{queue}\x06\x16{step}" for step in steps)])
        for queue in queues
    }


# --- one rate ------------------------------------------------------------------------------


def run_rate(stack: dict, rate: float, seconds: float, crm: LoopbackReceiver) -> dict:
    """Leads at ``rate`` for ``seconds``, then until every stage is done (or the drain limit
    and a margin ran out); what each stage took, the queues, the CPU."""
    tag = str(time.monotonic_ns())
    saved: list[str] = []
    failed: list[str] = []

    def on_reply(_index: int, reply: loadgen.Reply) -> None:
        if reply.status == 201:
            saved.append(reply.json()["lead"]["id"])
        else:
            failed.append(f"{reply.status} {reply.body[:200]!r}")

    depths: list[tuple[float, dict[str, int]]] = []
    sampling = threading.Event()

    def sample() -> None:
        started, client = time.perf_counter(), redis.Redis.from_url(stack["redis_url"], socket_connect_timeout=2)
        while not sampling.is_set():
            depths.append((time.perf_counter() - started, _queue_depths(client, stack["queues"])))
            sampling.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    cpu_before, wall_before = cpu_by_process(stack["roots"]), time.perf_counter()
    sampler.start()
    sent = loadgen.drive(
        stack["app"].address,
        lambda index: Call.json(
            "POST", "/api/v2/leads", routing_push.lead_payload(index, tag), token=stack["token"], expect=(201,)
        ),
        count=int(rate * seconds),
        concurrency=8,
        rate=rate,
        max_seconds=seconds * 2,
        on_reply=on_reply,
    )
    cpu_after, wall_after = cpu_by_process(stack["roots"]), time.perf_counter()
    last_save = datetime.now(UTC)
    stages = ("routed", "pushed", "scored", "crm", "webhook")
    deadline = time.perf_counter() + DRAIN_LIMIT_S + 50
    while True:
        times = stage_times(saved, crm)
        if all(len(times[stage]) >= len(saved) for stage in stages) or time.perf_counter() > deadline:
            break
        time.sleep(1.0)
    drained_at = datetime.now(UTC)
    sampling.set()
    sampler.join()
    groups = [*stack["roots"], "postgresql", "redis", "load generator + receivers"]
    cpu = cores_used(cpu_before, cpu_after, wall_after - wall_before, groups)
    summary = {}
    for stage in stages:
        values = list(times[stage].values())
        summary[stage] = {
            "done": len(values),
            "p50_s": percentile(values, 50) if values else None,
            "p95_s": percentile(values, 95) if values else None,
            "max_s": max(values) if values else None,
        }
    all_done = all(summary[stage]["done"] >= len(saved) for stage in stages)
    drain_s = (drained_at - last_save).total_seconds() if all_done else None
    push_p95 = summary["pushed"]["p95_s"]
    return {
        "rate": rate,
        "seconds": seconds,
        "sent_rate": sent.requests / sent.wall_seconds if sent.wall_seconds else 0,
        "saved": len(saved),
        "failed_saves": len(failed),
        "first_failures": failed[:3],
        "stages": summary,
        "drain_s": drain_s,
        "queue_depths": depths,
        "max_depth": {queue: max((d[queue] for _, d in depths), default=0) for queue in stack["queues"]},
        "cpu_cores": cpu,
        "kept_up": bool(all_done and drain_s is not None and drain_s <= DRAIN_LIMIT_S and push_p95 and push_p95 < 2),
    }


# --- the stack ---------------------------------------------------------------------------


def start_stack(url: str, team: dict, *, workers: int) -> dict:
    from rest_framework.authtoken.models import Token

    from integrations.alerts.vapid import generate_keys
    from integrations.webhooks.models import WebhookEvent, WebhookSubscription, new_webhook_secret
    from leads.models import User
    from leads.reporting import counts

    redis_url = servers.bench_redis_url(int(os.environ.get("BENCH_AFTER_SAVE_REDIS_DB", "4")))
    if not servers.redis_reachable(redis_url):
        raise SystemExit(f"Redis is not reachable at {redis_url}: the after-save path needs a broker and workers")
    counts.compact()
    routing_push.set_aside_backlog(url)
    keys = generate_keys()
    push_service = routing_push._push_service_class()(keys.public_key)
    agents = list(User.objects.filter(username__startswith="bench_agent_"))
    routing_push.subscribe_agents(agents, push_service)
    crm, hooks = LoopbackReceiver(), LoopbackReceiver()
    WebhookSubscription.objects.create(
        owner=team["manager"],
        name="bench",
        url=hooks.url,
        secret=new_webhook_secret(),
        events=[event.value for event in WebhookEvent],
    )
    token = Token.objects.get_or_create(user=team["manager"])[0].key
    servers.flush_redis(redis_url)
    env = {
        **servers.app_environment(url, redis_url),
        **routing_push.push_environment(keys),
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        "CRM_WEBHOOK_URL": crm.url,
        "CRM_WEBHOOK_SECRET": "bench-crm-secret",
    }
    queue = env.get("CELERY_QUEUE", "leadmgmt")
    env["CELERY_URGENT_QUEUE"] = f"{queue}.urgent"
    app = servers.Gunicorn("after-save-app", "leadmgmt.wsgi", env)
    urgent = servers.CeleryWorker(
        "after-save-urgent", env, processes=routing_push.URGENT_PROCESSES, queues=env["CELERY_URGENT_QUEUE"]
    )
    worker = servers.CeleryWorker("after-save-worker", env, processes=workers, queues=queue, nice=10)
    return {
        "app": app,
        "processes": [worker, urgent, app],
        "servers": [push_service, crm, hooks],
        "crm": crm,
        "token": token,
        "redis_url": redis_url,
        "queues": [queue, env["CELERY_URGENT_QUEUE"]],
        "roots": {
            "gunicorn (API)": app.popen.pid,
            "urgent worker (4 processes)": urgent.popen.pid,
            f"after-save worker ({workers} process{'es' if workers > 1 else ''})": worker.popen.pid,
        },
    }


def stop_stack(stack: dict) -> None:
    for process in stack["processes"]:
        process.stop()
    for server in stack["servers"]:
        server.stop()


# --- report --------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(found: dict) -> str:
    runs = found["runs"]
    kept = [run["rate"] for run in runs if run["kept_up"]]
    rates = ",".join(f"{run['rate']:g}" for run in runs)
    lines = [
        "# The after-save path at a rising rate (issue 16, part 2)",
        "",
        f"Commit {found['commit']}, {found['when']}, PostgreSQL + Redis on this machine's 2 cores, "
        f"{found['leads_before']:,} leads already saved, 50 agents, 21 routing rules; the after-save worker with "
        f"{found['workers']} process(es) beside the urgent worker's 4. Written by `python -m bench.after_save "
        f"--rates {rates} --seconds {found['seconds']:g} "
        f"--workers {found['workers']}`.",
        "",
        "Each stage from the lead's save (its `created_at`) to: **routed** (the routing decision), **pushed** "
        "(the agent's web push delivered to the loopback push service), **scored** (analysis and score: the "
        "pipeline job done), **CRM** (the signed webhook received by the loopback CRM), **webhook** (the first "
        "delivery of the lead's events to the subscriber). A rate is kept up with when every stage of every lead "
        f"was done within {DRAIN_LIMIT_S:g} s of the last save and save -> push p95 is under 2 s.",
        "",
        "| leads/s asked (sent) | leads | routed p50 / p95 s | pushed p50 / p95 s | scored p50 / p95 s "
        "| CRM p50 / p95 s | webhook p50 / p95 s | all done after the last save | deepest queue (after-save / urgent) "
        "| kept up |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        cells = [
            f"{_seconds(run['stages'][stage]['p50_s'])} / {_seconds(run['stages'][stage]['p95_s'])}"
            + ("" if run["stages"][stage]["done"] >= run["saved"] else f" ({run['stages'][stage]['done']} done)")
            for stage in ("routed", "pushed", "scored", "crm", "webhook")
        ]
        depth = " / ".join(str(value) for value in run["max_depth"].values())
        drain = f"{run['drain_s']:.1f} s" if run["drain_s"] is not None else "not within the limit"
        lines.append(
            f"| {run['rate']:g} ({run['sent_rate']:.1f}) | {run['saved']:,}"
            + (f" ({run['failed_saves']} refused)" if run["failed_saves"] else "")
            + f" | {' | '.join(cells)} | {drain} | {depth} | {'yes' if run['kept_up'] else '**no**'} |"
        )
    lines += [
        "",
        f"Highest rate kept up with: **{max(kept):g} leads/s**." if kept else "No rate was kept up with.",
        "",
        "## Where the CPU went while the leads were sent (cores used, of 2)",
        "",
        "| leads/s | " + " | ".join(runs[0]["cpu_cores"]) + " | total |",
        "| --- | " + " | ".join("---" for _ in runs[0]["cpu_cores"]) + " | --- |",
    ]
    for run in runs:
        values = run["cpu_cores"]
        lines.append(
            f"| {run['rate']:g} | "
            + " | ".join(f"{value:.2f}" for value in values.values())
            + f" | {sum(values.values()):.2f} |"
        )
    lines += [
        "",
        "Read from /proc (user + system time of each group's processes over the sending window); the CPU of "
        "processes that exited during the window is not counted.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.after_save", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="20,35,50", help="new leads per second, one run each (20,35,50)")
    parser.add_argument("--seconds", type=float, default=60, help="seconds of creates at each rate (60)")
    parser.add_argument("--workers", type=int, default=2, help="after-save worker processes (2, as deployed)")
    parser.add_argument("--leads", type=int, default=LEADS_BEFORE, help="leads saved before (10,000)")
    parser.add_argument("--database", default="leadmgmt_bench_after_save")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "AFTER_SAVE.md")
    parser.add_argument("--json", type=Path, default=ARTIFACTS / "after_save.json")
    args = parser.parse_args(argv)
    rates = [float(part) for part in args.rates.split(",")]
    log(f"Preparing {args.database} ...")
    url = routing_run.prepare_database(args.database)
    routing_run.setup_django(url)
    from bench.report import _git_commit

    team = routing_run.build_team()
    log(f"{args.leads:,} leads ...")
    routing_run.make_leads(team["manager"], args.leads, source="", tags=[], spread=True)
    stack = start_stack(url, team, workers=args.workers)
    runs = []
    try:
        time.sleep(3)  # the workers connect to the broker
        warm = loadgen.drive(
            stack["app"].address,
            lambda index: Call.json(
                "POST", "/api/v2/leads", routing_push.lead_payload(index, "warm"), token=stack["token"]
            ),
            count=10,
            concurrency=1,
        )
        log(f"  warm-up: {warm.requests} creates")
        time.sleep(10)
        for rate in rates:
            log(f"{rate:g} leads/s for {args.seconds:g} s ...")
            run = run_rate(stack, rate, args.seconds, stack["crm"])
            runs.append(run)
            log(
                f"  sent {run['sent_rate']:.1f}/s; push p95 {_seconds(run['stages']['pushed']['p95_s'])} s, "
                f"scored p95 {_seconds(run['stages']['scored']['p95_s'])} s, drained "
                f"{_seconds(run['drain_s'])} s; kept up: {run['kept_up']}"
            )
            time.sleep(5)
    finally:
        stop_stack(stack)
    found = {
        "commit": _git_commit(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "leads_before": args.leads,
        "workers": args.workers,
        "seconds": args.seconds,
        "runs": runs,
    }
    routing_run.write_report(found, render(found), markdown=args.output, raw=args.json)
    return found


if __name__ == "__main__":
    main()
