# A deleted lead is uncounted only while its key has counter rows. In a consistent
# table a live lead's key always has rows (their sum is at least 1), so this changes
# nothing there; it matters when the counters were emptied first, e.g. by
# `manage.py flush` on SQLite, which deletes table by table: the leads deleted after
# the counters must not leave negative rows behind.

from django.db import migrations

POSTGRESQL_GUARDED = """
CREATE OR REPLACE FUNCTION leads_lead_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)
    SELECT keys.agent_key, r.status, r.lead_type, -COUNT(*)
    FROM old_rows r CROSS JOIN LATERAL (VALUES (COALESCE(r.assigned_to_id, 0)), (-1)) AS keys (agent_key)
    WHERE r.archived_at IS NULL
      AND EXISTS (
          SELECT 1 FROM leads_leadcount c
          WHERE c.assigned_to_key = keys.agent_key AND c.status = r.status AND c.lead_type = r.lead_type
      )
    GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;
"""

POSTGRESQL_UNGUARDED = """
CREATE OR REPLACE FUNCTION leads_lead_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)
    SELECT keys.agent_key, r.status, r.lead_type, -COUNT(*)
    FROM old_rows r CROSS JOIN LATERAL (VALUES (COALESCE(r.assigned_to_id, 0)), (-1)) AS keys (agent_key)
    WHERE r.archived_at IS NULL GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;
"""


def _sqlite_delete_trigger(*, guarded: bool) -> list[str]:
    def uncount(key: str) -> str:
        guard = (
            f" AND EXISTS (SELECT 1 FROM leads_leadcount WHERE assigned_to_key = {key}"
            " AND status = OLD.status AND lead_type = OLD.lead_type)"
            if guarded
            else ""
        )
        return (
            "INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)"
            f" SELECT {key}, OLD.status, OLD.lead_type, -1 WHERE OLD.archived_at IS NULL{guard};"
        )

    return [
        "DROP TRIGGER IF EXISTS leads_lead_count_delete",
        "CREATE TRIGGER leads_lead_count_delete AFTER DELETE ON leads_lead FOR EACH ROW"
        f" BEGIN {uncount('COALESCE(OLD.assigned_to_id, 0)')} {uncount('-1')} END",
    ]


def _apply(schema_editor, *, guarded: bool) -> None:
    if schema_editor.connection.vendor == "postgresql":
        statements = [POSTGRESQL_GUARDED if guarded else POSTGRESQL_UNGUARDED]
    else:
        statements = _sqlite_delete_trigger(guarded=guarded)
    for statement in statements:
        schema_editor.execute(statement)


def forward(apps, schema_editor):
    _apply(schema_editor, guarded=True)


def backward(apps, schema_editor):
    _apply(schema_editor, guarded=False)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0009_dashboard_arrival_indexes"),
    ]

    operations = [migrations.RunPython(forward, backward)]
