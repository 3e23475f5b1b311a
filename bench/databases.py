"""One PostgreSQL database per data set size, loaded once and copied per run.

``leadmgmt_bench_<size>`` holds the loaded data and is reused while its row
counts match; each run works on a fresh copy of it (``..._run``, made with
CREATE DATABASE ... TEMPLATE), so the writes of one run never change the next
run's data.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench import dataset

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"
META_TABLE = "bench_meta"


def server_url() -> str:
    """The PostgreSQL server to use: DATABASE_URL's when it is PostgreSQL, else the local default."""
    configured = os.environ.get("DATABASE_URL", "")
    return configured if configured.startswith("postgres") else DEFAULT_SERVER_URL


def database_url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


@dataclass(frozen=True)
class LoadedDatabase:
    name: str
    url: str
    counts: dict[str, int]
    reused: bool
    load_seconds: float


class AnotherRunInProgress(RuntimeError):
    pass


@contextmanager
def exclusive(base: str, prefix: str):
    """Held for a whole run: two runs on one server would drop each other's databases
    and share the two cores, so the second one stops at once."""
    with psycopg.connect(database_url(base, "postgres"), autocommit=True) as conn:
        key = conn.execute("SELECT hashtext(%s)", [f"bench:{prefix}"]).fetchone()[0]
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
            raise AnotherRunInProgress(
                f"another bench run with databases {prefix}_* is in progress on this server; wait for it to finish"
            )
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [key])


def prepare(base: str, size: dataset.DatasetSize, *, prefix: str = "leadmgmt_bench", log=print) -> LoadedDatabase:
    """The loaded database for ``size``: reused when complete and its migrations
    unchanged (new ones are applied), else (re)created and loaded."""
    dataset.tables()  # fails at once when the models moved on, before any work
    name = f"{prefix}_{size.label}"
    url = database_url(base, name)
    admin = database_url(base, "postgres")
    if _exists(admin, name):
        reason = _why_not_reusable(url, size)
        if reason is None:
            migrate(url)  # apply migrations added since the load
            _record_meta(url, {"migrations": json.dumps(migration_fingerprints())})
            counts = _recorded_counts(url)
            log(f"  reusing {name} ({size.leads:,} leads, loaded earlier)")
            return LoadedDatabase(name, url, counts, reused=True, load_seconds=0.0)
        log(f"  {name} cannot be reused ({reason}): loading it again")
        drop(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate(url)
    fingerprints = migration_fingerprints()
    log(f"  loading {size.leads:,} leads into {name} with COPY ...")
    started = time.monotonic()
    counts = dataset.load(url, size, log=log)
    seconds = time.monotonic() - started
    meta = {f"rows:{table}": str(count) for table, count in counts.items()}
    _record_meta(url, {**meta, "load_seconds": f"{seconds:.1f}", "migrations": json.dumps(fingerprints)})
    log(f"  loaded in {seconds:.1f} s: " + ", ".join(f"{count:,} {table}" for table, count in counts.items()))
    return LoadedDatabase(name, url, counts, reused=False, load_seconds=seconds)


def fresh_copy(base: str, source: LoadedDatabase, *, suffix: str = "run") -> str:
    """A new copy of the loaded database for one run's writes; returns its URL."""
    admin = database_url(base, "postgres")
    name = f"{source.name}_{suffix}"
    drop(admin, name)
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
        sql.Identifier(name), sql.Identifier(source.name)
    )
    for attempt in range(20):
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(statement)
            break
        except psycopg.errors.ObjectInUse:  # autovacuum visiting the template: wait for it
            if attempt == 19:
                raise
            time.sleep(1)
    return database_url(base, name)


def drop(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def migrate(url: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "leadmgmt.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py migrate failed on {url}:\n{result.stderr[-3000:]}")


def _exists(admin: str, name: str) -> bool:
    with psycopg.connect(admin, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def migration_fingerprints() -> dict[str, str]:
    """A hash of each of the project's migration files, by path."""
    found = {}
    for path in sorted(ROOT.glob("*/**/migrations/0*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] not in (".venv", "node_modules"):
            found[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return found


def _why_not_reusable(url: str, size: dataset.DatasetSize) -> str | None:
    """None when the database holds a complete load of ``size`` whose applied
    migrations are all unchanged; else why not."""
    meta = _read_meta(url)
    counts = _recorded_counts(url)
    if not counts:
        return "no complete load recorded"
    if counts.get("lead") != size.leads:
        return f"it holds {counts.get('lead')} leads"
    if not _counts_match(url, counts):
        return "its row counts changed since the load"
    applied = json.loads(meta.get("migrations", "{}"))
    current = migration_fingerprints()
    changed = sorted(path for path, digest in applied.items() if current.get(path) != digest)
    if changed:
        return "migrations changed or removed since the load: " + ", ".join(changed)
    return None


def _read_meta(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", [META_TABLE]).fetchone()[0] is None:
            return {}
        return dict(conn.execute(sql.SQL("SELECT key, value FROM {}").format(sql.Identifier(META_TABLE))).fetchall())


def _recorded_counts(url: str) -> dict[str, int]:
    meta = _read_meta(url)
    return {key[len("rows:") :]: int(value) for key, value in meta.items() if key.startswith("rows:")}


def _counts_match(url: str, counts: dict[str, int]) -> bool:
    found = dataset.tables()
    with psycopg.connect(url, autocommit=True) as conn:
        for table, expected in counts.items():
            if table not in found:
                return False
            statement = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(found[table].name))
            if conn.execute(statement).fetchone()[0] != expected:
                return False
    return True


def _record_meta(url: str, values: dict[str, str]) -> None:
    table = sql.Identifier(META_TABLE)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, value text)").format(table))
        with conn.cursor() as cursor:
            cursor.executemany(
                sql.SQL(
                    "INSERT INTO {} (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ).format(table),
                list(values.items()),
            )


def has_leads(url: str, count: int) -> bool:
    """Whether the database at ``url`` exists and holds at least ``count`` leads (a bench's ``--keep``)."""
    try:
        with psycopg.connect(url) as connection:
            return connection.execute("SELECT count(*) FROM leads_lead").fetchone()[0] >= count
    except psycopg.Error:
        return False
