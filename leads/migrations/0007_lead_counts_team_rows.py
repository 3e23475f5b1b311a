# The lead counters also keep one row per (status, lead type) for the whole team
# (assigned_to_key -1), so a manager's count sums a few dozen rows, not one per agent.

from django.db import migrations

COUNT_COLUMNS = "leads_leadcount (assigned_to_key, status, lead_type, n)"

# Each lead counts under its agent (0: unassigned) and under the team (-1).
POSTGRESQL_FORWARD = """
LOCK TABLE leads_lead IN SHARE MODE;

CREATE OR REPLACE FUNCTION leads_lead_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)
    SELECT keys.agent_key, r.status, r.lead_type, COUNT(*)
    FROM new_rows r CROSS JOIN LATERAL (VALUES (COALESCE(r.assigned_to_id, 0)), (-1)) AS keys (agent_key)
    WHERE r.archived_at IS NULL GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_lead_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)
    SELECT keys.agent_key, r.status, r.lead_type, -COUNT(*)
    FROM old_rows r CROSS JOIN LATERAL (VALUES (COALESCE(r.assigned_to_id, 0)), (-1)) AS keys (agent_key)
    WHERE r.archived_at IS NULL GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_lead_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.archived_at IS NULL THEN
        INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n) VALUES
            (COALESCE(OLD.assigned_to_id, 0), OLD.status, OLD.lead_type, -1),
            (-1, OLD.status, OLD.lead_type, -1);
    END IF;
    IF NEW.archived_at IS NULL THEN
        INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n) VALUES
            (COALESCE(NEW.assigned_to_id, 0), NEW.status, NEW.lead_type, 1),
            (-1, NEW.status, NEW.lead_type, 1);
    END IF;
    RETURN NULL;
END $$;
"""

POSTGRESQL_BACKWARD = """
LOCK TABLE leads_lead IN SHARE MODE;

CREATE OR REPLACE FUNCTION leads_lead_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)
    SELECT COALESCE(r.assigned_to_id, 0), r.status, r.lead_type, COUNT(*) FROM new_rows r
    WHERE r.archived_at IS NULL GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_lead_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)
    SELECT COALESCE(r.assigned_to_id, 0), r.status, r.lead_type, -COUNT(*) FROM old_rows r
    WHERE r.archived_at IS NULL GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_lead_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.archived_at IS NULL THEN
        INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)
            VALUES (COALESCE(OLD.assigned_to_id, 0), OLD.status, OLD.lead_type, -1);
    END IF;
    IF NEW.archived_at IS NULL THEN
        INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)
            VALUES (COALESCE(NEW.assigned_to_id, 0), NEW.status, NEW.lead_type, 1);
    END IF;
    RETURN NULL;
END $$;
"""


def _sqlite_triggers(*, team_rows: bool) -> list[str]:
    def change(row: str, sign: str) -> str:
        """The counter rows for ``row`` (OLD or NEW), written only while it is live."""
        keys = [f"COALESCE({row}.assigned_to_id, 0)"] + (["-1"] if team_rows else [])
        return " ".join(
            f"INSERT INTO {COUNT_COLUMNS} SELECT {key}, {row}.status, {row}.lead_type, {sign}1"
            f" WHERE {row}.archived_at IS NULL;"
            for key in keys
        )

    return [
        "DROP TRIGGER IF EXISTS leads_lead_count_insert",
        "DROP TRIGGER IF EXISTS leads_lead_count_delete",
        "DROP TRIGGER IF EXISTS leads_lead_count_update",
        f"""CREATE TRIGGER leads_lead_count_insert AFTER INSERT ON leads_lead
            FOR EACH ROW BEGIN {change("NEW", "")} END""",
        f"""CREATE TRIGGER leads_lead_count_delete AFTER DELETE ON leads_lead
            FOR EACH ROW BEGIN {change("OLD", "-")} END""",
        f"""CREATE TRIGGER leads_lead_count_update AFTER UPDATE ON leads_lead
            FOR EACH ROW WHEN OLD.status IS NOT NEW.status
                OR OLD.lead_type IS NOT NEW.lead_type
                OR OLD.assigned_to_id IS NOT NEW.assigned_to_id
                OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL)
            BEGIN {change("OLD", "-")} {change("NEW", "")} END""",
    ]


ADD_TEAM_ROWS = """
INSERT INTO leads_leadcount (assigned_to_key, status, lead_type, n)
SELECT -1, status, lead_type, SUM(n) FROM leads_leadcount WHERE assigned_to_key <> -1 GROUP BY 2, 3
"""
REMOVE_TEAM_ROWS = "DELETE FROM leads_leadcount WHERE assigned_to_key = -1"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = [POSTGRESQL_FORWARD] if vendor == "postgresql" else _sqlite_triggers(team_rows=True)
    for statement in [*statements, ADD_TEAM_ROWS]:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = [POSTGRESQL_BACKWARD] if vendor == "postgresql" else _sqlite_triggers(team_rows=False)
    for statement in [*statements, REMOVE_TEAM_ROWS]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0006_lead_counts"),
    ]

    operations = [migrations.RunPython(forward, backward)]
