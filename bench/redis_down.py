"""Writes with Redis up and with Redis down (issue 10): PATCH, add interaction and a
batch of 500, against an app whose Redis (cache, rate-limit counters, broker) is a
redis-server of the bench's own, measured while it runs and again after it is killed.

The two halves run back to back on the same app server, so their ratio compares
requests made within the same minute. Target: with Redis down, a write takes at most
twice its time with Redis up (p50).
"""

from collections.abc import Callable

from bench import loadgen, markdown, servers
from bench.operations import BATCH_SIZE, OPERATIONS, Context, batch_call

WRITES = ("update", "interaction")
BATCHES = 3  # a batch takes ~0.7 s: a p50 of 3
WARMUP_REQUESTS = 5
TARGET_RATIO = 2.0


def measure(*, label: str, env: dict[str, str], ctx: Context, count: int, concurrency: int, max_seconds: float, log):
    """Each write's figures with Redis "up" and "down", and the p50 ratios; or a reason it was skipped."""
    redis = servers.RedisServer.start(f"redis-{label}")
    if redis is None:
        return {"skipped": "redis-server is not installed"}
    app = None
    try:
        app = servers.Gunicorn(f"app-redis-down-{label}", "leadmgmt.wsgi:application", {**env, "REDIS_URL": redis.url})
        found = {"up": _writes(app, ctx, count, concurrency, max_seconds, offset=3_000_000)}
        redis.kill()
        found["down"] = _writes(app, ctx, count, concurrency, max_seconds, offset=4_000_000)
    finally:
        if app is not None:
            app.stop()
        redis.stop()
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


def _writes(app, ctx: Context, count: int, concurrency: int, max_seconds: float, *, offset: int) -> dict:
    operations = {op.key: op for op in OPERATIONS}
    found = {}
    for key in WRITES:
        make = operations[key].app
        call = lambda index, make=make: make(ctx, offset + index)  # noqa: E731
        found[key] = _drive(app, call, count, concurrency, max_seconds, warmup=WARMUP_REQUESTS)
    batch = lambda index: batch_call(ctx, offset + index)  # noqa: E731
    found["batch"] = _drive(app, batch, BATCHES, 1, max_seconds * 4, warmup=1)
    return found


def _drive(app, make: Callable[[int], loadgen.Call], count: int, concurrency: int, max_seconds: float, *, warmup: int):
    loadgen.drive(app.address, lambda index: make(900_000 + index), count=warmup, concurrency=1)
    return loadgen.drive(app.address, make, count=count, concurrency=concurrency, max_seconds=max_seconds).as_dict()


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
        "An app server (2 sync workers) whose cache, rate-limit counters and broker are a redis-server of the "
        "bench's own: the writes are measured while it runs, then it is killed (SIGKILL) and they are measured "
        "again, back to back. With Redis down the rate limit lets requests through, the cache answers as a miss "
        "and each save's job is left for the sweeper (README: 'When Redis is down')."
    )
    return f"{table}\n\n{note}"
