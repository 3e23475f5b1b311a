"""Routing figures (issue 11): ``python -m bench.routing_run [--quick] [--output bench/ROUTING.md]``.

On a fresh PostgreSQL database of its own (``leadmgmt_bench_routing``, migrated; the
server is DATABASE_URL's or the local one), with 50 agents (half with weekly hours,
some with time off, caps and pauses) and 20 rules (sources, cities, ZIPs, languages,
tags, urgencies, price ranges; the last a first-to-claim rule; then the catch-all):

1. **Routing time per lead**: ``engine.route_lead`` on leads that match rules all down
   the list (the whole transaction: rules read, eligibility, the round-robin lock, the
   assignment through the lead write path with its audit and event, the trace). Target
   under 20 ms.
2. **Round robin over 10,000 leads** (quick: 1,100) on one rule of ten agents weighted
   1 to 10: each agent's share against weight / 55, in percentage points. Target
   within 1 point.
3. **First to claim, 10 agents racing**: 1,000 trials (quick: 50), each a new lead
   offered to ten agents whose ten claims are released together from ten threads, each
   on its own connection. Target: exactly one winner every time.

Celery is kept in-process and off (the after-save work is not what is measured): the
lead events are left unrelayed. Save -> push p95 is not measured here.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import time as wall
from decimal import Decimal
from pathlib import Path

AGENTS = 50
RULES = 20
RR_WEIGHTS = tuple(range(1, 11))
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare_database(name: str) -> str:
    import psycopg
    from psycopg import sql

    from bench import databases

    base = databases.server_url()
    admin = databases.database_url(base, "postgres")
    databases.drop(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = databases.database_url(base, name)
    databases.migrate(url)
    return url


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)  # one log line per routing and per alert: not what is measured
    from leadmgmt.celery import app

    # Tasks go to an in-memory broker nobody reads: routing is measured, not the after-save work.
    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"


def build_team() -> dict:
    """50 agents and 20 rules, the last but one round robin over ten weighted agents and
    the last a first-to-claim rule; returns what the steps need."""
    from datetime import date, timedelta

    from integrations.routing import engine
    from integrations.routing.models import AgentRoutingProfile, RoutingMethod, RoutingRule, RuleMember
    from leads.models import Role, TimeOff, User, WorkingHours

    agents = [
        User.objects.create(username=f"bench_agent_{n}", first_name="Agent", last_name=str(n), role=Role.AGENT)
        for n in range(AGENTS)
    ]
    manager = User.objects.create(username="bench_manager", role=Role.MANAGER)
    WorkingHours.objects.bulk_create(
        WorkingHours(user=agent, weekday=day, starts_at=wall(0), ends_at=wall(23, 59))
        for agent in agents[: AGENTS // 2]
        for day in range(7)
    )
    today = date.today()
    TimeOff.objects.bulk_create(
        TimeOff(user=agent, starts_on=today + timedelta(days=30), ends_on=today + timedelta(days=31))
        for agent in agents[::5]
    )
    AgentRoutingProfile.objects.bulk_create(
        AgentRoutingProfile(user=agent, capacity=100_000, paused=(n % 17 == 16)) for n, agent in enumerate(agents)
    )
    sources = ["zillow", "realtor_com", "referral", "website", "open_house", "social_media"]
    cities = ["Austin", "Dallas", "Houston", "Denver", "Boise", "Miami"]
    rules = []
    for n in range(RULES - 2):
        rule = RoutingRule.objects.create(
            name=f"Rule {n}",
            position=10 * (n + 1),
            sources=[sources[n % len(sources)]],
            cities=[cities[n % len(cities)]] if n % 3 == 0 else [],
            zip_codes=[f"7{n:04d}"] if n % 4 == 1 else [],
            languages=["es"] if n % 5 == 2 else [],
            tags=["vip"] if n % 6 == 3 else [],
            urgencies=["high", "urgent"] if n % 2 else [],
            min_price=Decimal(100_000 * (n % 5)) if n % 2 == 0 else None,
            max_price=Decimal(100_000 * (n % 5) + 400_000) if n % 2 == 0 else None,
            has_phone=True if n % 7 == 0 else None,
        )
        RuleMember.objects.bulk_create(
            RuleMember(rule=rule, agent=agents[(n * 3 + k) % AGENTS], weight=1 + k % 5) for k in range(8)
        )
        rules.append(rule)
    rr_rule = RoutingRule.objects.create(
        name="Weighted", position=10_000, sources=["other"], tags=["rr"], allow_off_hours=True
    )
    rr_agents = agents[-len(RR_WEIGHTS) :]
    RuleMember.objects.bulk_create(
        RuleMember(rule=rr_rule, agent=agent, weight=weight)
        for agent, weight in zip(rr_agents, RR_WEIGHTS, strict=True)
    )
    AgentRoutingProfile.objects.filter(user__in=rr_agents).update(paused=False)
    claim_rule = RoutingRule.objects.create(
        name="First to claim", position=10_001, sources=["other"], tags=["race"], method=RoutingMethod.FIRST_TO_CLAIM
    )
    claim_agents = agents[:10]
    RuleMember.objects.bulk_create(RuleMember(rule=claim_rule, agent=agent) for agent in claim_agents)
    AgentRoutingProfile.objects.filter(user__in=claim_agents).update(paused=False)
    catch_all = engine.ensure_catch_all(None)
    RuleMember.objects.bulk_create(RuleMember(rule=catch_all, agent=agent) for agent in agents)
    return {
        "manager": manager,
        "rules": rules,
        "rr_rule": rr_rule,
        "rr_agents": rr_agents,
        "claim_rule": claim_rule,
        "rule_count": RoutingRule.objects.count(),
    }


def make_leads(manager, count: int, *, source: str, tags: list[str], spread: bool = False) -> list[int]:
    """``count`` unassigned leads (through the service's batch path, in chunks of 500)."""
    from leads.audit.models import AuditChannel
    from leads.core.services import LeadManagementService

    service = LeadManagementService(manager, channel=AuditChannel.SYSTEM)
    sources = ["zillow", "realtor_com", "referral", "website", "open_house", "social_media", "other"]
    ids: list[str] = []
    stamp = time.time_ns()
    for start in range(0, count, 500):
        items = []
        for n in range(start, min(count, start + 500)):
            items.append(
                {
                    "contact": {"first_name": "Lead", "last_name": str(n), "email": f"r{stamp}.{n}@bench.example"},
                    "lead_type": "buyer",
                    "source": sources[n % len(sources)] if spread else source,
                    "tags": tags,
                    "preferences": {
                        "min_price": Decimal(150_000 + (n % 9) * 50_000),
                        "max_price": Decimal(350_000 + (n % 9) * 50_000),
                        "preferred_locations": [["Austin", "Dallas", "Denver", "Seattle"][n % 4]],
                    },
                    "timeline": {"urgency_level": ["low", "normal", "high", "urgent"][n % 4]},
                }
            )
        results = service.create_leads_batch(items)
        ids += [result.lead_id for result in results if result.lead_id]
    from leads.models import Lead

    return list(Lead.objects.filter(public_id__in=ids).order_by("pk").values_list("pk", flat=True))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure_routing_time(team: dict, count: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from integrations.routing import engine
    from integrations.routing.models import RoutingDecision

    lead_pks = make_leads(team["manager"], count, source="", tags=[], spread=True)
    for pk in lead_pks[:20]:  # warm up: imports, caches, the first connection
        engine.route_lead(pk)
    times, cpu = [], []
    for pk in lead_pks[20:]:
        started, cpu_started = time.perf_counter(), time.process_time()
        engine.route_lead(pk)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    counted = make_leads(team["manager"], 1, source="zillow", tags=[])[0]
    with CaptureQueriesContext(connection) as queries:
        engine.route_lead(counted)
    outcomes = Counter(RoutingDecision.objects.filter(lead_id__in=lead_pks).values_list("outcome", flat=True))
    rules_hit = RoutingDecision.objects.filter(lead_id__in=lead_pks).values("rule_id").distinct().count()
    return {
        "leads": len(times),
        "mean_ms": statistics.fmean(times),
        "p50_ms": percentile(times, 0.50),
        "p95_ms": percentile(times, 0.95),
        "max_ms": max(times),
        "app_cpu_mean_ms": statistics.fmean(cpu),
        "queries_per_lead": len(queries),
        "outcomes": dict(outcomes),
        "rules_hit": rules_hit,
    }


def measure_round_robin(team: dict, count: int) -> dict:
    from integrations.routing import engine
    from leads.models import Lead

    lead_pks = make_leads(team["manager"], count, source="other", tags=["rr"])
    started = time.perf_counter()
    for pk in lead_pks:
        engine.route_lead(pk)
    seconds = time.perf_counter() - started
    got = Counter(Lead.objects.filter(pk__in=lead_pks).values_list("assigned_to_id", flat=True))
    total_weight = sum(RR_WEIGHTS)
    rows = []
    for agent, weight in zip(team["rr_agents"], RR_WEIGHTS, strict=True):
        expected = weight / total_weight
        actual = got.get(agent.pk, 0) / len(lead_pks)
        rows.append(
            {
                "agent": agent.username,
                "weight": weight,
                "leads": got.get(agent.pk, 0),
                "expected": expected,
                "actual": actual,
            }
        )
    deviation = max(abs(row["actual"] - row["expected"]) for row in rows) * 100
    return {"leads": len(lead_pks), "seconds": seconds, "max_deviation_points": deviation, "agents": rows}


def measure_claim_race(team: dict, trials: int) -> dict:
    from django.db import connection

    from integrations.routing import engine, services
    from integrations.routing.errors import RoutingConflict
    from integrations.routing.models import Offer, OfferState

    lead_pks = make_leads(team["manager"], trials, source="other", tags=["race"])
    threads = 10
    barrier = threading.Barrier(threads + 1)
    done = threading.Barrier(threads + 1)
    current: dict = {}
    outcomes: list[list[str]] = []
    stop = threading.Event()

    def claimer(index: int) -> None:
        try:
            while True:
                barrier.wait()
                if stop.is_set():
                    return
                offer = current["offers"][index]
                try:
                    services.claim_offer(offer, offer.agent)
                    current["results"][index] = "won"
                except RoutingConflict:
                    current["results"][index] = "conflict"
                except Exception as error:  # counted, shown in the report
                    current["results"][index] = f"error: {type(error).__name__}: {error}"[:200]
                done.wait()
        finally:
            connection.close()

    workers = [threading.Thread(target=claimer, args=(index,), daemon=True) for index in range(threads)]
    for worker in workers:
        worker.start()
    bad_trials = []
    started = time.perf_counter()
    for trial, pk in enumerate(lead_pks):
        engine.route_lead(pk)
        offers = list(Offer.objects.filter(lead_id=pk).select_related("agent", "lead").order_by("pk"))
        if len(offers) != threads:
            bad_trials.append({"trial": trial, "offers": len(offers)})
            continue
        current["offers"], current["results"] = offers, [None] * threads
        barrier.wait()
        done.wait()
        outcomes.append(list(current["results"]))
        claimed = Offer.objects.filter(lead_id=pk, state=OfferState.CLAIMED).count()
        if current["results"].count("won") != 1 or claimed != 1:
            bad_trials.append({"trial": trial, "results": current["results"], "claimed_offers": claimed})
    stop.set()
    barrier.wait()
    seconds = time.perf_counter() - started
    winners = Counter(results.count("won") for results in outcomes)
    return {
        "trials": len(lead_pks),
        "raced": len(outcomes),
        "exactly_one_winner": winners.get(1, 0),
        "winners_per_trial": {str(key): value for key, value in sorted(winners.items())},
        "bad_trials": bad_trials[:20],
        "seconds": seconds,
    }


def measure_push(url: str, team: dict, *, seconds: float, split_workers: bool = True, rate: float = 20) -> dict | None:
    from bench import routing_push, servers
    from leads.models import User

    redis_url = servers.bench_redis_url(int(os.environ.get("BENCH_ROUTING_REDIS_DB", "3")))
    if not servers.redis_reachable(redis_url):
        log(f"Save -> push skipped: Redis is not reachable at {redis_url}")
        return None
    log("Save -> routed -> push delivered ...")
    from leads.reporting import counts

    # The steps before made thousands of leads with no periodic jobs running: fold the lead
    # counters as the minutely compact_lead_counts job keeps them (the capacity check reads them).
    counts.compact()
    agents = list(User.objects.filter(username__startswith="bench_agent_"))
    found = routing_push.measure(
        url,
        redis_url,
        agents=agents,
        manager=team["manager"],
        rate=rate,
        seconds=seconds,
        log=log,
        split_workers=split_workers,
    )
    log(
        f"  p50 {found['p50_ms'] or 0:.0f} ms, p95 {found['p95_ms'] or 0:.0f} ms "
        f"({found['pushed']} of {found['saved']} pushed)"
    )
    return found


def render(found: dict) -> str:
    timing, rr, race = found["routing_time"], found["round_robin"], found["claim_race"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    lines = [
        "# Routing figures (issue 11)",
        "",
        f"Commit {found['commit']}, {found['when']}, PostgreSQL, {found['agents']} agents, {found['rules']} rules "
        "(with the catch-all). Written by `python -m bench.routing_run`" + (" --quick" if found["quick"] else "") + ".",
        "",
        "| figure | target | measured | verdict |",
        "| --- | --- | --- | --- |",
        f"| routing time per lead (p50 / p95 / mean, {timing['leads']} leads, {timing['rules_hit']} rules hit) "
        f"| under 20 ms | {timing['p50_ms']:.1f} / {timing['p95_ms']:.1f} / {timing['mean_ms']:.1f} ms "
        f"| {verdict(timing['p95_ms'] < 20)} |",
        f"| round robin over {rr['leads']:,} leads, largest share deviation from weight | within 1 point "
        f"| {rr['max_deviation_points']:.3f} points | {verdict(rr['max_deviation_points'] <= 1)} |",
        f"| first to claim, 10 agents racing, {race['trials']:,} trials | exactly one winner each "
        f"| {race['exactly_one_winner']:,} of {race['trials']:,} "
        f"| {verdict(race['exactly_one_winner'] == race['trials'])} |",
        _push_row(found.get("push")),
        "",
        f"Queries for one routed lead: {timing['queries_per_lead']}; the app's own CPU per routed lead "
        f"{timing.get('app_cpu_mean_ms', 0):.1f} ms (the rest of the wall time is PostgreSQL, the commit's fsync "
        "and waiting for a core). Outcomes of the timed leads: "
        + ", ".join(f"{key} {value}" for key, value in sorted(timing["outcomes"].items()))
        + ".",
        "",
        _stages_line(found.get("push")),
        "",
        "## Round robin shares",
        "",
        "| agent | weight | leads | expected share | actual share |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {row['agent']} | {row['weight']} | {row['leads']:,} "
            f"| {row['expected'] * 100:.3f}% | {row['actual'] * 100:.3f}% |"
            for row in rr["agents"]
        ),
        "",
        f"Routed in {rr['seconds']:.1f} s. The race: {race['raced']:,} trials raced in {race['seconds']:.1f} s; "
        f"winners per trial: {race['winners_per_trial']}; bad trials: {race['bad_trials'] or 'none'}.",
        "",
    ]
    return "\n".join(lines)


def _push_row(push: dict | None) -> str:
    figure = f"save -> routed -> push delivered p95 at {push['target_rate'] if push else 20:g} leads/s"
    if not push:
        return f"| {figure} | under 2 s | not measured (no Redis, or --no-push) | - |"
    ok = push["p95_ms"] is not None and push["p95_ms"] < 2000 and push["pushed"] == push["saved"]
    ok = ok and push["target_rate"] >= 20  # the target is at 20 leads/s
    return (
        f"| {figure} (p50 / p95 / max; {push['pushed']} of {push['saved']} pushed, achieved "
        f"{push['achieved_rate'] or 0:.1f}/s, {push['refused_pushes']} refused) | under 2 s "
        f"| {push['p50_ms'] or 0:.0f} / {push['p95_ms'] or 0:.0f} / {push['max_ms'] or 0:.0f} ms "
        f"| {'met' if ok else '**missed**'} |"
    )


def _stages_line(push: dict | None) -> str:
    if not push or not push.get("stages"):
        return ""
    parts = [
        f"{name.replace('_', ' ')} p50 {values['p50']:.2f} s / p95 {values['p95']:.2f} s"
        for name, values in push["stages"].items()
        if values
    ]
    workers = (
        f"an urgent worker of {push['urgent_processes']} processes and a niced after-save worker of 1"
        if push.get("urgent_processes")
        else "one worker of 2 processes for every task"
    )
    return f"Save -> push ({workers}), stage by stage (from the rows' timestamps): " + "; ".join(parts) + "."


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.routing_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,100 round-robin leads and 50 races")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "ROUTING.md")
    parser.add_argument("--database", default="leadmgmt_bench_routing")
    parser.add_argument("--json", type=Path, default=ARTIFACTS / "routing.json", help="where the raw figures go")
    parser.add_argument("--no-push", action="store_true", help="skip save -> push (needs Redis)")
    parser.add_argument("--push-seconds", type=float, help="seconds of creates at 20 leads/s (default 30; quick 10)")
    parser.add_argument("--push-rate", type=float, default=20, help="creates per second for save -> push (20)")
    parser.add_argument(
        "--one-worker",
        action="store_true",
        help="save -> push with one worker for every task (default: an urgent worker and a niced one, as deployed)",
    )
    parser.add_argument("--sizes", help="timed leads, round-robin leads, races (e.g. 20,110,5 for a smoke run)")
    args = parser.parse_args(argv)
    log(f"Preparing {args.database} ...")
    url = prepare_database(args.database)
    setup_django(url)
    from bench.report import _git_commit

    load_at_start = os.getloadavg()[0]
    team = build_team()
    timed, rr_leads, trials = (200, 1_100, 50) if args.quick else (1_000, 10_000, 1_000)
    if args.sizes:
        timed, rr_leads, trials = (int(part) for part in args.sizes.split(","))
    log(f"Routing time over {timed} leads ...")
    routing_time = measure_routing_time(team, timed + 20)
    log(f"  p50 {routing_time['p50_ms']:.1f} ms, p95 {routing_time['p95_ms']:.1f} ms")
    log(f"Round robin over {rr_leads:,} leads ...")
    round_robin = measure_round_robin(team, rr_leads)
    log(f"  largest deviation {round_robin['max_deviation_points']:.3f} points")
    log(f"First to claim, {trials} races of 10 ...")
    claim_race = measure_claim_race(team, trials)
    log(f"  exactly one winner in {claim_race['exactly_one_winner']} of {claim_race['trials']}")
    push = None
    if not args.no_push:
        push = measure_push(
            url,
            team,
            seconds=args.push_seconds or (10 if args.quick else 30),
            split_workers=not args.one_worker,
            rate=args.push_rate,
        )
    found = {
        "push": push,
        "commit": _git_commit(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": args.quick,
        "agents": AGENTS,
        "load": [load_at_start, os.getloadavg()[0]],
        "rules": team["rule_count"],
        "routing_time": routing_time,
        "round_robin": round_robin,
        "claim_race": claim_race,
    }
    write_report(found, render(found), markdown=args.output, raw=args.json)
    return found


def write_report(found: dict, rendered: str, *, markdown: Path, raw: Path) -> None:
    """The raw figures as JSON, the report as Markdown; then the database connections closed."""
    from django.db import connections

    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(found, indent=1, default=str))
    markdown.write_text(rendered)
    log(f"Wrote {markdown}")
    connections.close_all()


if __name__ == "__main__":
    main()
