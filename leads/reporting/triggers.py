"""Keeping the lead counters' SQLite triggers in place.

SQLite alters a table by rebuilding it, and a rebuilt ``leads_lead`` has lost its
triggers: the counters (``leads.reporting.counts``) would silently stop counting. After
every ``migrate`` (post_migrate), ``ensure_sqlite_triggers`` puts back any that are
missing, as the migrations that made them last defined them (0007, and 0010 for the
delete trigger), and recounts. PostgreSQL alters tables in place and keeps them.
"""

import importlib

from django.db import connections

from leads.reporting import counts

TRIGGERS = ("leads_lead_count_insert", "leads_lead_count_delete", "leads_lead_count_update")


def ensure_sqlite_triggers(using: str = "default") -> bool:
    """Re-create missing counter triggers on SQLite and recount; True when some were missing."""
    connection = connections[using]
    if connection.vendor != "sqlite" or "leads_lead" not in connection.introspection.table_names():
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'leads_lead'")
        present = {name for (name,) in cursor.fetchall()}
        if set(TRIGGERS) <= present:
            return False
        for statement in _current_definitions():
            cursor.execute(statement)
    counts.rebuild()
    return True


def _current_definitions() -> list[str]:
    """The triggers as the latest migrations that defined them wrote them."""
    team_rows = importlib.import_module("leads.migrations.0007_lead_counts_team_rows")
    delete_guard = importlib.import_module("leads.migrations.0010_lead_counts_delete_guard")
    return [*team_rows._sqlite_triggers(team_rows=True), *delete_guard._sqlite_delete_trigger(guarded=True)]


def after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate receiver (connected in ``LeadsConfig.ready``)."""
    ensure_sqlite_triggers(using)
