"""Running requests at the same moment, for the PostgreSQL concurrency tests."""

import threading

from django.db import connection


def run_at_once(count: int, work) -> tuple[list, list]:
    """``work(i)`` in ``count`` threads released together, each on its own connection."""
    start = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = work(index)
        except Exception as exc:  # reported by the callers' assertions
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors
