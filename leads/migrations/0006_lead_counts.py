# Exact lead counts kept by triggers (see leads.models.LeadCount and leads.counts).

from django.db import migrations, models

KEY = "COALESCE({t}.assigned_to_id, 0), {t}.status, {t}.lead_type"
COUNT_COLUMNS = "leads_leadcount (assigned_to_key, status, lead_type, n)"

# PostgreSQL: inserts and deletes are counted once per statement from the transition
# table (a COPY or a bulk insert of 500 leads adds one row per key, not one per lead);
# an update only when it moves a lead between keys or in or out of the archive.
POSTGRESQL_FORWARD = f"""
CREATE FUNCTION leads_lead_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNT_COLUMNS}
    SELECT {KEY.format(t="r")}, COUNT(*) FROM new_rows r WHERE r.archived_at IS NULL GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;

CREATE FUNCTION leads_lead_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNT_COLUMNS}
    SELECT {KEY.format(t="r")}, -COUNT(*) FROM old_rows r WHERE r.archived_at IS NULL GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;

CREATE FUNCTION leads_lead_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.archived_at IS NULL THEN
        INSERT INTO {COUNT_COLUMNS} VALUES ({KEY.format(t="OLD")}, -1);
    END IF;
    IF NEW.archived_at IS NULL THEN
        INSERT INTO {COUNT_COLUMNS} VALUES ({KEY.format(t="NEW")}, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER leads_lead_count_insert AFTER INSERT ON leads_lead
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_count_inserted();
CREATE TRIGGER leads_lead_count_delete AFTER DELETE ON leads_lead
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_count_deleted();
CREATE TRIGGER leads_lead_count_update AFTER UPDATE ON leads_lead FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.lead_type IS DISTINCT FROM NEW.lead_type
          OR OLD.assigned_to_id IS DISTINCT FROM NEW.assigned_to_id
          OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL))
    EXECUTE FUNCTION leads_lead_count_updated();
"""

POSTGRESQL_BACKWARD = """
DROP TRIGGER IF EXISTS leads_lead_count_insert ON leads_lead;
DROP TRIGGER IF EXISTS leads_lead_count_delete ON leads_lead;
DROP TRIGGER IF EXISTS leads_lead_count_update ON leads_lead;
DROP FUNCTION IF EXISTS leads_lead_count_inserted();
DROP FUNCTION IF EXISTS leads_lead_count_deleted();
DROP FUNCTION IF EXISTS leads_lead_count_updated();
"""

# SQLite has row triggers only.
SQLITE_FORWARD = [
    f"""CREATE TRIGGER leads_lead_count_insert AFTER INSERT ON leads_lead
        FOR EACH ROW WHEN NEW.archived_at IS NULL
        BEGIN INSERT INTO {COUNT_COLUMNS} VALUES ({KEY.format(t="NEW")}, 1); END""",
    f"""CREATE TRIGGER leads_lead_count_delete AFTER DELETE ON leads_lead
        FOR EACH ROW WHEN OLD.archived_at IS NULL
        BEGIN INSERT INTO {COUNT_COLUMNS} VALUES ({KEY.format(t="OLD")}, -1); END""",
    f"""CREATE TRIGGER leads_lead_count_update AFTER UPDATE ON leads_lead
        FOR EACH ROW WHEN OLD.status IS NOT NEW.status
            OR OLD.lead_type IS NOT NEW.lead_type
            OR OLD.assigned_to_id IS NOT NEW.assigned_to_id
            OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL)
        BEGIN
            INSERT INTO {COUNT_COLUMNS} SELECT {KEY.format(t="OLD")}, -1 WHERE OLD.archived_at IS NULL;
            INSERT INTO {COUNT_COLUMNS} SELECT {KEY.format(t="NEW")}, 1 WHERE NEW.archived_at IS NULL;
        END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS leads_lead_count_insert",
    "DROP TRIGGER IF EXISTS leads_lead_count_delete",
    "DROP TRIGGER IF EXISTS leads_lead_count_update",
]

# The leads there already are; after the triggers exist (on PostgreSQL CREATE TRIGGER
# holds off writers to leads_lead until this migration commits, so none is missed).
POPULATE = f"""
INSERT INTO {COUNT_COLUMNS}
SELECT {KEY.format(t="leads_lead")}, COUNT(*) FROM leads_lead WHERE archived_at IS NULL GROUP BY 1, 2, 3
"""


def _statements(vendor: str, *, forward: bool) -> list[str]:
    if vendor == "postgresql":
        return [POSTGRESQL_FORWARD, POPULATE] if forward else [POSTGRESQL_BACKWARD]
    if vendor == "sqlite":
        return [*SQLITE_FORWARD, POPULATE] if forward else SQLITE_BACKWARD
    raise NotImplementedError(f"lead count triggers are written for PostgreSQL and SQLite, not {vendor}")


def create_triggers(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, forward=True):
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, forward=False):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0005_live_leads_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("assigned_to_key", models.BigIntegerField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("new", "New"),
                            ("contacted", "Contacted"),
                            ("qualified", "Qualified"),
                            ("showing", "Showing"),
                            ("offer", "Offer"),
                            ("under_contract", "Under contract"),
                            ("closed", "Closed"),
                            ("lost", "Lost"),
                            ("nurture", "Nurture"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "lead_type",
                    models.CharField(
                        choices=[
                            ("buyer", "Buyer"),
                            ("seller", "Seller"),
                            ("buyer_seller", "Buyer and seller"),
                            ("renter", "Renter"),
                            ("investor", "Investor"),
                        ],
                        max_length=16,
                    ),
                ),
                ("n", models.BigIntegerField()),
            ],
            options={
                "indexes": [models.Index(fields=["assigned_to_key", "status", "lead_type"], name="leadcount_key")],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
