"""CSV import: the app's import (``leads.imports.services``) against its COPY floor.

Run by the harness as ``python -m bench.import_run <rows> <big_rows>`` with the
app's environment; prints a JSON object. It

1. offers a file of ``big_rows`` rows (the issue's 100k) to ``import_create`` and
   records whether the app takes it; when ``rows`` is at least ``big_rows`` that
   file is the one imported in step 2 (the full run imports the whole 100k file);
2. imports a file of ``rows`` rows the way a worker does (``import_create``, then
   ``run_import`` in this process), timing it and sampling this process's RSS
   (the time includes the upload; RSS is sampled over ``run_import`` only, from
   the moment the upload is stored and the file's text dropped, in a process that has imported one chunk
   (``IMPORT_CHUNK_ROWS`` rows) before, as a worker has: the first import's one-off
   costs (modules, phone metadata, broker connection, the first chunk's objects)
   are reported apart, as ``rss_cold_*``; what is left is growth with the file);
3. loads the same rows with the floor: parse the CSV and COPY leads, contacts,
   preferences, timelines and status changes in one transaction.
"""

import csv
import gc
import io
import json
import os
import secrets
import sys
import threading
import time

COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "lead_type",
    "source",
    "min_price",
    "max_price",
    "property_types",
    "preferred_locations",
    "urgency_level",
    "financing_status",
)


def csv_text(rows: int, tag: str, first: int = 0) -> str:
    from bench.dataset import FIRST_NAMES, LAST_NAMES, LOCATIONS

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for number in range(first, first + rows):
        first = FIRST_NAMES[number % len(FIRST_NAMES)]
        last = LAST_NAMES[(number * 7) % len(LAST_NAMES)]
        low = 300_000 + (number % 50) * 20_000
        writer.writerow(
            [
                first,
                last,
                f"{first}.{last}.{tag}.{number}@import.example".lower(),
                f"+1628{number % 10_000_000:07d}",
                "buyer",
                "open_house",
                low,
                int(low * 1.25),
                "single_family;condo",
                LOCATIONS[number % len(LOCATIONS)],
                "high",
                "pre_qualified",
            ]
        )
    return out.getvalue()


class RssSampler:
    """This process's resident memory, sampled every 0.1 s."""

    def __init__(self):
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.current())
            self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append(self.current())


def offer_big_file(manager, rows: int) -> dict:
    from leads.errors import ApplicationError
    from leads.imports import services as imports

    text = csv_text(rows, "big")
    started = time.perf_counter()
    try:
        job = imports.import_create(actor=manager, file_name="big.csv", content=text.encode())
    except ApplicationError as exc:
        return {"accepted": False, "bytes": len(text), "reason": exc.fields or exc.message}
    # Accepted: a worker would now run it; this bench measures the run on the smaller file.
    return {"accepted": True, "bytes": len(text), "seconds": time.perf_counter() - started, "job": job.pk}


def run_app_import(manager, rows: int) -> dict:
    """Import ``rows`` rows; ``{"refused": reason}`` when the app does not take the file."""
    from django.conf import settings

    from leads.errors import ApplicationError
    from leads.imports import services as imports
    from leads.models import Lead, LeadImport

    cold = RssSampler.current()
    warm_up_rows = settings.IMPORT_CHUNK_ROWS  # one chunk: the working set every import has
    warm_up = imports.import_create(
        actor=manager, file_name="warm-up.csv", content=csv_text(warm_up_rows, "warm", first=9_000_000).encode()
    )
    imports.run_import(import_id=warm_up.pk)
    warm = RssSampler.current()

    text = csv_text(rows, secrets.token_hex(4))
    size = len(text)
    before = Lead.objects.count()
    started = time.perf_counter()
    try:
        job_pk = imports.import_create(actor=manager, file_name="bench.csv", content=text.encode()).pk
    except ApplicationError as exc:
        return {"refused": exc.fields or exc.message, "bytes": size}
    created_seconds = time.perf_counter() - started
    del text  # a worker starts from the stored upload, not from a copy in memory
    gc.collect()
    rss_start = RssSampler.current()
    cpu_started = time.process_time()
    with RssSampler() as rss:
        imports.run_import(import_id=job_pk)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    job = LeadImport.objects.defer("source_text").get(pk=job_pk)
    return {
        "rows": rows,
        "bytes": size,
        "seconds": seconds,
        "upload_seconds": created_seconds,
        "rows_per_second": rows / seconds,
        "worker_cpu_seconds": cpu_seconds,  # this process's CPU time in run_import (the machine is shared)
        "status": job.status,
        "created": job.created_count,
        "errors": job.error_count,
        "duplicates": job.duplicate_count,
        "first_error": job.row_errors[:1],
        "leads_added": Lead.objects.count() - before,
        "rss_start_mb": rss_start / 2**20,
        "rss_peak_mb": max(rss.samples) / 2**20,
        "rss_end_mb": rss.samples[-1] / 2**20,
        "rss_cold_start_mb": cold / 2**20,
        "rss_cold_after_warm_up_mb": warm / 2**20,
    }


def run_copy_floor(manager_id: int, rows: int) -> dict:
    """Parse the CSV and COPY the same five tables in one transaction."""
    import psycopg

    text = csv_text(rows, secrets.token_hex(4))
    started = time.perf_counter()
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        first_id = conn.execute("SELECT nextval(pg_get_serial_sequence('leads_lead', 'id'))").fetchone()[0]
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('leads_lead', 'id'), %s)", [first_id + rows]
        )  # reserve the ids
        parsed = list(csv.DictReader(io.StringIO(text)))
        ids = range(first_id, first_id + len(parsed))
        with conn.cursor() as cursor:
            with cursor.copy(
                "COPY leads_lead (id, created_at, updated_at, public_id, lead_type, source, status, "
                "score_breakdown, metadata, custom_fields, tags, version, sla_status, processing_status, "
                "processing_error, processed_version, furthest_stage, stage_entered_at) FROM STDIN"
            ) as copy:
                for lead_id, row in zip(ids, parsed, strict=True):
                    copy.write_row(
                        (lead_id, "now", "now", f"lead_{secrets.token_hex(12)}", row["lead_type"], row["source"],
                         "new", "[]", "{}", "{}", "[]", 1, "pending", "pending", "", 0, 0, "now")
                    )  # fmt: skip
            with cursor.copy(
                "COPY leads_contact (lead_id, first_name, last_name, email, phone, phone_is_valid, "
                "preferred_contact_method, best_time_to_contact, email_opt_out, sms_opt_out, call_opt_out, "
                "preferred_language) FROM STDIN"
            ) as copy:
                for lead_id, row in zip(ids, parsed, strict=True):
                    copy.write_row(
                        (lead_id, row["first_name"], row["last_name"], row["email"], row["phone"], True, "email", "",
                         False, False, False, "")
                    )  # fmt: skip
            with cursor.copy(
                "COPY leads_preferences (lead_id, property_types, min_price, max_price, preferred_locations, "
                "must_have_features, nice_to_have_features) FROM STDIN"
            ) as copy:
                for lead_id, row in zip(ids, parsed, strict=True):
                    copy.write_row(
                        (
                            lead_id,
                            json.dumps(row["property_types"].split(";")),
                            row["min_price"],
                            row["max_price"],
                            json.dumps([row["preferred_locations"]]),
                            "[]",
                            "[]",
                        )
                    )
            with cursor.copy("COPY leads_timeline (lead_id, urgency_level, financing_status) FROM STDIN") as copy:
                for lead_id, row in zip(ids, parsed, strict=True):
                    copy.write_row((lead_id, row["urgency_level"], row["financing_status"]))
            with cursor.copy(
                "COPY leads_statuschange (lead_id, from_status, to_status, changed_by_id, changed_at) FROM STDIN"
            ) as copy:
                for lead_id in ids:
                    copy.write_row((lead_id, "", "new", manager_id, "now"))
        conn.commit()
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds}


def main() -> None:
    import django

    django.setup()
    from bench.dataset import MANAGER_USERNAME
    from leads.models import User

    rows, big_rows = int(sys.argv[1]), int(sys.argv[2])
    manager = User.objects.get(username=MANAGER_USERNAME)
    if rows >= big_rows:  # import the big file itself
        app = run_app_import(manager, rows)
        if "refused" in app:
            big_file = {"accepted": False, "bytes": app["bytes"], "reason": app["refused"]}
            app = run_app_import(manager, min(rows, 600))
        else:
            big_file = {"accepted": True, "bytes": app["bytes"], "seconds": app["upload_seconds"], "imported": True}
    else:
        big_file = offer_big_file(manager, big_rows)
        app = run_app_import(manager, rows)
    result = {"big_file": big_file, "app": app, "floor": run_copy_floor(manager.pk, app["rows"])}
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
