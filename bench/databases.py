"""One PostgreSQL database per data set size, loaded once and copied per run.

``leadmgmt_bench_<size>`` holds the loaded data and is reused while its row
counts match; each run works on a fresh copy of it (``..._run``, made with
CREATE DATABASE ... TEMPLATE), so the writes of one run never change the next
run's data.
"""

import os
import subprocess
import sys
import time
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


def prepare(base: str, size: dataset.DatasetSize, *, prefix: str = "leadmgmt_bench", log=print) -> LoadedDatabase:
    """The loaded database for ``size``: reused when complete, else (re)created and loaded."""
    dataset.tables()  # fails at once when the models moved on, before any work
    name = f"{prefix}_{size.label}"
    url = database_url(base, name)
    admin = database_url(base, "postgres")
    if _exists(admin, name):
        migrate(url)  # catch up with migrations added since the load
        counts = _recorded_counts(url)
        if counts and counts.get("lead") == size.leads and _counts_match(url, counts):
            log(f"  reusing {name} ({size.leads:,} leads, loaded earlier)")
            return LoadedDatabase(name, url, counts, reused=True, load_seconds=0.0)
        log(f"  {name} is incomplete or of another size: loading it again")
        drop(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate(url)
    log(f"  loading {size.leads:,} leads into {name} with COPY ...")
    started = time.monotonic()
    counts = dataset.load(url, size, log=log)
    seconds = time.monotonic() - started
    _record_counts(url, counts, seconds)
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


def _recorded_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", [META_TABLE]).fetchone()[0] is None:
            return {}
        rows = conn.execute(sql.SQL("SELECT key, value FROM {}").format(sql.Identifier(META_TABLE))).fetchall()
    return {key[len("rows:") :]: int(value) for key, value in rows if key.startswith("rows:")}


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


def _record_counts(url: str, counts: dict[str, int], seconds: float) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value text)").format(sql.Identifier(META_TABLE)))
        rows = [(f"rows:{table}", str(count)) for table, count in counts.items()]
        rows.append(("load_seconds", f"{seconds:.1f}"))
        with conn.cursor() as cursor:
            cursor.executemany(
                sql.SQL("INSERT INTO {} (key, value) VALUES (%s, %s)").format(sql.Identifier(META_TABLE)), rows
            )
