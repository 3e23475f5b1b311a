"""Writing matches in bulk, upserted by (lead, listing): two workers writing the same pair
both succeed and the later one wins; ``first_matched_at`` and the alert columns of an
existing match are never touched.

On PostgreSQL the rows are copied (COPY) into a temporary table and upserted from it in
one statement: a thousand matches cost milliseconds rather than the half second that
``bulk_create`` spends building the statement in Python. Other databases (SQLite in
development and tests) use ``bulk_create(update_conflicts=True)``.
"""

import json
import time
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connections, router
from psycopg import sql

from integrations.matches.models import ListingMatch

BULK_BATCH = 2000
UPDATED = ("score", "reasons", "reason", "price", "matched_at", "is_current")
STAGE = "listing_match_stage"
_COLUMNS = (
    "lead_id",
    "listing_id",
    "score",
    "reasons",
    "reason",
    "price",
    "first_matched_at",
    "matched_at",
    "is_current",
)


class MatchRow(NamedTuple):
    lead_id: int
    listing_id: int
    score: int
    reasons: list[str]
    reason: str
    price: Decimal
    first_matched_at: datetime  # used only when the match is new
    matched_at: datetime
    is_current: bool


def upsert(rows: list[MatchRow]) -> None:
    if not rows:
        return
    connection = connections[router.db_for_write(ListingMatch)]
    if connection.vendor == "postgresql":
        _copy_upsert(connection, rows)
        return
    ListingMatch.objects.bulk_create(
        [ListingMatch(**row._asdict()) for row in rows],
        batch_size=BULK_BATCH,
        update_conflicts=True,
        unique_fields=["lead", "listing"],
        update_fields=list(UPDATED),
    )


def _copy_upsert(connection, rows: list[MatchRow]) -> None:
    table = sql.Identifier(ListingMatch._meta.db_table)
    stage = sql.Identifier(STAGE)
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in _COLUMNS)
    raw = connection.connection
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE IF NOT EXISTS {} (lead_id bigint, listing_id bigint, score smallint, "
                "reasons jsonb, reason varchar(16), price numeric(14, 2), first_matched_at timestamptz, "
                "matched_at timestamptz, is_current boolean) ON COMMIT DELETE ROWS"
            )
            .format(stage)
            .as_string(raw)
        )
        copy_statement = sql.SQL("COPY {} ({}) FROM STDIN").format(stage, columns)
        started = time.monotonic()
        with cursor.cursor.copy(copy_statement) as copy:
            for row in rows:
                copy.write_row((*row[:3], json.dumps(row.reasons), *row[4:]))
        _log(connection, copy_statement, started)
        updates = sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(name), sql.Identifier(name)) for name in UPDATED
        )
        # DISTINCT ON: a pair twice in one write (never expected) is written once.
        cursor.execute(
            sql.SQL(
                "INSERT INTO {table} ({columns}) SELECT DISTINCT ON (lead_id, listing_id) {columns} FROM {stage} "
                "ON CONFLICT (lead_id, listing_id) DO UPDATE SET {updates}"
            )
            .format(table=table, columns=columns, stage=stage, updates=updates)
            .as_string(raw)
        )
        cursor.execute(sql.SQL("TRUNCATE {}").format(stage).as_string(raw))


def _log(connection, statement: sql.Composed, started: float) -> None:
    """Count the COPY among the connection's queries, as Django does for a statement."""
    if connection.queries_logged:
        text = statement.as_string(connection.connection)
        connection.queries_log.append({"sql": text, "time": f"{time.monotonic() - started:.3f}"})
