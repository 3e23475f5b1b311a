"""SQL queries per request: each call is run in-process through django.test.Client
against the bench database, inside CaptureQueriesContext.

Run by the harness as ``python -m bench.querycount calls.json`` with the app's
environment (DATABASE_URL, REDIS_URL); prints one JSON object per call key:
``{"queries": n, "status": code, "sql_ms": total, "slowest": [[ms, sql], ...]}``.
Each call is made twice and the second is counted, so one-off work (a first
connection, lazily built caches) is not.
"""

import json
import sys


def count(calls: list[dict]) -> dict[str, dict]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    found: dict[str, dict] = {}
    for call in calls:
        for attempt in ("warm", "counted"):
            spec = call[attempt]
            with CaptureQueriesContext(connection) as captured:
                response = client.generic(
                    spec["method"],
                    spec["path"],
                    data=(spec["body"] or "").encode(),
                    content_type="application/json",
                    headers={"Authorization": f"Bearer {spec['token']}"},
                )
        queries = captured.captured_queries
        timed = sorted(((float(query["time"]) * 1000, query["sql"]) for query in queries), reverse=True)
        found[call["key"]] = {
            "queries": len(captured.captured_queries),
            "status": response.status_code,
            "sql_ms": round(sum(ms for ms, _ in timed), 2),
            "slowest": [[round(ms, 2), text[:300]] for ms, text in timed[:3]],
            "slowest_plan": explain(timed[0][1]) if timed and timed[0][1].startswith("SELECT") else "",
        }
    return found


def explain(query: str) -> str:
    """Where a SELECT spends its rows: the plan's biggest nodes, one line."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}")
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    nodes: list[tuple[int, str]] = []

    def walk(node: dict) -> None:
        rows = int(node.get("Actual Rows", 0) * node.get("Actual Loops", 1))
        name = node["Node Type"]
        if node.get("Relation Name"):
            name += f" on {node['Relation Name']}"
        if node.get("Index Name"):
            name += f" using {node['Index Name']}"
        if node.get("Sort Method"):
            name += f" ({node['Sort Method']})"
        nodes.append((rows, name))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    biggest = sorted(nodes, key=lambda item: -item[0])[:4]
    return f"{plan[0]['Execution Time']:.0f} ms; " + "; ".join(f"{name}: {rows:,} rows" for rows, name in biggest)


def main() -> None:
    import django

    django.setup()
    with open(sys.argv[1]) as handle:
        calls = json.load(handle)
    print(json.dumps(count(calls)))


if __name__ == "__main__":
    main()
