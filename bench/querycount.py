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
        timed = sorted(
            ((float(query["time"]) * 1000, query["sql"][:300]) for query in captured.captured_queries), reverse=True
        )
        found[call["key"]] = {
            "queries": len(captured.captured_queries),
            "status": response.status_code,
            "sql_ms": round(sum(ms for ms, _ in timed), 2),
            "slowest": [[round(ms, 2), text] for ms, text in timed[:3]],
        }
    return found


def main() -> None:
    import django

    django.setup()
    with open(sys.argv[1]) as handle:
        calls = json.load(handle)
    print(json.dumps(count(calls)))


if __name__ == "__main__":
    main()
