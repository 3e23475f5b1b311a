"""Writes with Redis up and with Redis down (issue 10): PATCH, add interaction and a
batch of 500, on two app servers whose Redis (cache, rate-limit counters, broker) is a
redis-server of the bench's own each: one keeps running, the other is killed once
both are warm.

Requests alternate between the two in blocks of ``BLOCK``, so both halves see the
same minute of a shared machine and their ratio is not the drift of its load.
Target: with Redis down, a write takes at most twice its time with Redis up (p50).
"""

from collections.abc import Callable

from bench import loadgen, markdown, servers
from bench.operations import BATCH_SIZE, OPERATIONS, Context, batch_call

WRITES = ("update", "interaction")
BATCHES = 5  # a batch takes ~0.3-0.7 s: a p50 of 5 per side
BLOCK = 10
WARMUP_REQUESTS = 5
TARGET_RATIO = 2.0
STATES = ("up", "down")


def measure(*, label: str, env: dict[str, str], ctx: Context, count: int, concurrency: int, max_seconds: float, log):
    """Each write's figures with Redis "up" and "down", and the p50 ratios; or a reason it was skipped."""
    redis = {state: servers.RedisServer.start(f"redis-{state}-{label}") for state in STATES}
    if None in redis.values():
        return {"skipped": "redis-server is not installed"}
    apps = {}
    try:
        for state in STATES:
            app_env = {**env, "REDIS_URL": redis[state].url}
            apps[state] = servers.Gunicorn(f"app-redis-{state}-{label}", "leadmgmt.wsgi:application", app_env)
        _writes(apps, ctx, WARMUP_REQUESTS, 1, max_seconds, batches=1, offset=2_500_000)  # connected to Redis
        redis["down"].kill()
        _writes(apps, ctx, WARMUP_REQUESTS, 1, max_seconds, batches=1, offset=2_600_000)  # found it gone
        found = _writes(apps, ctx, count, concurrency, max_seconds, batches=BATCHES, offset=3_000_000)
    finally:
        for process in (*apps.values(), *redis.values()):
            process.stop()
    found["ratios"] = {
        key: markdown.ratio(found["down"][key]["p50_ms"], found["up"][key]["p50_ms"]) for key in (*WRITES, "batch")
    }
    for key, ratio in found["ratios"].items():
        up, down = found["up"][key], found["down"][key]
        log(
            f"  {label:>4} Redis down vs up, {key:11} p50 {up['p50_ms'] or 0:7.1f} -> {down['p50_ms'] or 0:7.1f} ms "
            f"({ratio or 0:.2f}x)  errors {up['errors']}/{down['errors']}"
        )
    return found


def _writes(
    apps: dict, ctx: Context, count: int, concurrency: int, max_seconds: float, *, batches: int, offset: int
) -> dict:
    """{state: {write: figures}} for the app of each state, requests alternating between them."""
    operations = {op.key: op for op in OPERATIONS}
    found = {state: {} for state in apps}
    for key in WRITES:
        make = operations[key].app
        call = lambda index, make=make: make(ctx, offset + index)  # noqa: E731
        for state, measured in _alternate(apps, call, count, concurrency, max_seconds).items():
            found[state][key] = measured
    batch = lambda index: batch_call(ctx, offset + index)  # noqa: E731
    for state, measured in _alternate(apps, batch, batches, 1, max_seconds * 4).items():
        found[state]["batch"] = measured
    return found


def _alternate(
    apps: dict, make: Callable[[int], loadgen.Call], count: int, concurrency: int, max_seconds: float
) -> dict[str, dict]:
    """``count`` requests to each app, sent in blocks that take turns; pooled figures per app."""
    pooled = {state: loadgen.Measurement() for state in apps}
    block = BLOCK if concurrency > 1 else 1
    for sent in range(0, count, block):
        size = min(block, count - sent)
        for number, (state, app) in enumerate(apps.items()):
            first = sent + number * 1_000_000  # distinct rows and emails per app
            measured = loadgen.drive(
                app.address,
                lambda index, first=first: make(first + index),
                count=size,
                concurrency=concurrency,
                max_seconds=max_seconds,
            )
            total = pooled[state]
            total.requests += measured.requests
            total.errors += measured.errors
            total.wall_seconds += measured.wall_seconds
            total.latencies += measured.latencies
            total.first_error = total.first_error or measured.first_error
            total.stopped_early = total.stopped_early or measured.stopped_early
    return {state: measured.as_dict() for state, measured in pooled.items()}


TITLES = {"update": "update (PATCH)", "interaction": "add interaction", "batch": f"batch create of {BATCH_SIZE}"}
NOT_MEASURED = {"skipped": "not measured by this run"}


def target_rows(sizes: dict) -> list[list[str]]:
    """The Targets table's row for each size: the worst p50 ratio of down vs up, at most 2x."""
    rows = []
    for label, found in sizes.items():
        measured = found.get("redis_down") or NOT_MEASURED
        title = f"writes with Redis down vs up, p50 ({label})"
        if "skipped" in measured:
            rows.append([title, f"at most {TARGET_RATIO:g}x", measured["skipped"], "not measured"])
            continue
        ratios = measured["ratios"]
        shown = ", ".join(
            f"{TITLES[key]} {markdown.x(ratios[key])} "
            f"({markdown.ms(measured['up'][key]['p50_ms'])} -> {markdown.ms(measured['down'][key]['p50_ms'])} ms)"
            for key in TITLES
        )
        worst = max((ratio for ratio in ratios.values() if ratio), default=None)
        rows.append([title, f"at most {TARGET_RATIO:g}x", shown, markdown.verdict_max(worst, TARGET_RATIO)])
    return rows


def report_table(sizes: dict) -> str:
    """The "Writes with Redis down" section: each write's p50 and p99 up and down, and how it was measured."""
    rows = []
    for label, found in sizes.items():
        measured = found.get("redis_down") or NOT_MEASURED
        if "skipped" in measured:
            rows.append([label, measured["skipped"], "", "", "", "", "", ""])
            continue
        for key, title in TITLES.items():
            up, down = measured["up"][key], measured["down"][key]
            rows.append(
                [
                    label,
                    title,
                    markdown.ms(up["p50_ms"]),
                    markdown.ms(down["p50_ms"]),
                    markdown.x(measured["ratios"][key]),
                    markdown.ms(up["p99_ms"]),
                    markdown.ms(down["p99_ms"]),
                    f"{up['errors']} / {down['errors']}",
                ]
            )
    header = ["size", "operation", "p50 ms, Redis up", "p50 ms, Redis down", "down vs up"]
    table = markdown.table([*header, "p99 ms, Redis up", "p99 ms, Redis down", "errors up / down"], rows)
    note = (
        "Two app servers (2 sync workers each), each with a redis-server of the bench's own as its cache, "
        "rate-limit counter store and broker; once both are warm, one redis-server is killed (SIGKILL). The "
        f"requests then alternate between the two servers in blocks of {BLOCK} (batches one by one), so both "
        "columns come from the same minutes. With Redis down the rate limit lets requests through, the cache "
        "answers as a miss and each save's job is left for the sweeper (README: 'When Redis is down')."
    )
    return f"{table}\n\n{note}"
