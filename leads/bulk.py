"""Bulk inserts of new rows for the batch create and the CSV import.

On PostgreSQL the rows go in with COPY: ``bulk_create`` spends most of a
thousand-row insert in Python (building the statement and quoting every value,
~0.4 s for a thousand audit entries whose SQL runs in 0.1 s), which COPY does in
C. Ids are drawn from the table's sequence first (one query), so the objects come
back with their primary keys, as from ``bulk_create``. Other databases (SQLite in
development and tests) use ``bulk_create``.

Like ``bulk_create``: no ``save()``, no signals; ``auto_now``/``auto_now_add`` and
Python defaults are applied. Triggers run as for any INSERT.
"""

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Field, Model
from django.utils import timezone
from psycopg import sql

M = TypeVar("M", bound=Model)

# Fields whose database value is the attribute's value as it is (COPY writes str, int,
# bool and None the same way): no per-value get_db_prep_save, which is most of the
# Python time of a wide row. Exact types only: a subclass may convert.
_AS_IS = {
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.AutoField,
    models.BigAutoField,
    models.ForeignKey,
    models.OneToOneField,
}


# Below this many rows one INSERT ... RETURNING beats drawing ids, then COPY (two
# round trips): a single create's audit entries take this path.
COPY_FROM_ROWS = 20


def insert(objs: Sequence[M]) -> list[M]:
    """Insert new instances of one model; returns them with their primary keys set."""
    objs = list(objs)
    if not objs:
        return objs
    model = type(objs[0])
    connection = connections[DEFAULT_DB_ALIAS]  # the object itself, not the per-thread proxy: read once per value
    if connection.vendor != "postgresql" or len(objs) < COPY_FROM_ROWS:
        return model.objects.bulk_create(objs)
    meta = model._meta
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    missing = [obj for obj in objs if getattr(obj, meta.pk.attname) is None]
    if missing and meta.auto_field is not None:  # a one-to-one part's key is its lead's id
        _draw_ids(connection, meta, missing)
    fields = meta.concrete_fields
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(meta.db_table), sql.SQL(", ").join(sql.Identifier(field.column) for field in fields)
    )
    columns = [(field, type(field).pre_save is not Field.pre_save, type(field) in _AS_IS) for field in fields]
    started = time.monotonic()
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for obj in objs:
            row = []
            for field, own_pre_save, as_is in columns:
                value = field.pre_save(obj, add=True) if own_pre_save else getattr(obj, field.attname)
                row.append(value if as_is else field.get_db_prep_save(value, connection))
            copy.write_row(row)
    _log(connection, statement, started)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def insert_rows(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert new rows of ``model`` given as ``{attname: value}`` (``lead_id``, not
    ``lead``), without an instance per row; returns their primary keys, in order.

    For many rows of a narrow table (status changes, audit entries, events) building a
    model instance each is most of the cost. The rules are those of ``insert``: a field
    left out takes its default (a callable default is called for each row), an
    ``auto_now``/``auto_now_add`` field is now, values are converted as Django converts
    them for a save. Other databases, and a few rows, go through ``insert``.
    """
    rows = list(rows)
    if not rows:
        return []
    connection = connections[DEFAULT_DB_ALIAS]
    meta = model._meta
    if connection.vendor != "postgresql" or len(rows) < COPY_FROM_ROWS or meta.auto_field is None:
        return [obj.pk for obj in insert([model(**row) for row in rows])]
    now = timezone.now()
    pk_column = meta.pk.attname
    getters = []
    for field in meta.concrete_fields:
        convert = None if type(field) in _AS_IS else field.get_db_prep_save
        if field.attname == pk_column:
            getters.append((pk_column, None, False, convert))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            getters.append((None, now, False, convert))
        elif field.has_default() and callable(field.default):
            getters.append((field.attname, field.default, True, convert))
        else:
            getters.append((field.attname, field.get_default(), False, convert))
    ids = _next_ids(connection, meta, len(rows))
    columns = sql.SQL(", ").join(sql.Identifier(field.column) for field in meta.concrete_fields)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(meta.db_table), columns)
    started = time.monotonic()
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row, pk in zip(rows, ids, strict=True):
            values = []
            for attname, default, call, convert in getters:
                if attname == pk_column:
                    value = pk
                elif attname is not None and attname in row:
                    value = row[attname]
                else:
                    value = default() if call else default
                values.append(value if convert is None else convert(value, connection))
            copy.write_row(values)
    _log(connection, statement, started)
    return ids


def _next_ids(connection, meta, count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def _draw_ids(connection, meta, objs: list[Model]) -> None:
    for obj, pk in zip(objs, _next_ids(connection, meta, len(objs)), strict=True):
        setattr(obj, meta.pk.attname, pk)


def _log(connection, statement: sql.Composed, started: float) -> None:
    """Count the COPY among the connection's queries, as Django does for a statement
    (CaptureQueriesContext, django_assert_num_queries, DEBUG's query log)."""
    if connection.queries_logged:
        text = statement.as_string(connection.connection)
        connection.queries_log.append({"sql": text, "time": f"{time.monotonic() - started:.3f}"})
