# Interactions counted per agent, type and UTC day and month (leads.reports.models.
# ActivityTally), for the leaderboard's activity over long ranges
# (leads.reports.activity). Kept by triggers, as the lead counters are (0006), so no
# writer can miss them: an interaction inserted or deleted counts in or out of its
# day and month; one whose time, type or author changes (a user's deletion sets the
# author to NULL) counts out of the old ones and into the new ones. Interactions
# without an author are not counted. Filled here with one grouped INSERT.

from django.db import migrations, models

PG_DAY = "({t}.occurred_at AT TIME ZONE 'UTC')::date"
PG_MONTH = "date_trunc('month', {t}.occurred_at AT TIME ZONE 'UTC')::date"
SQLITE_DAY = "date({t}.occurred_at)"
SQLITE_MONTH = "date({t}.occurred_at, 'start of month')"
COLUMNS = "leads_activitytally (span, starts_on, agent_key, type, n)"
ON_KEY = "ON CONFLICT (span, starts_on, agent_key, type) DO UPDATE SET n = leads_activitytally.n + excluded.n"


def _pg_grouped(rows: str, sign: str) -> str:
    # Sorted keys, so two statements that touch the same keys lock them in one order.
    return f"""
    INSERT INTO {COLUMNS}
    SELECT k.span, k.starts_on, r.created_by_id, r.type, {sign}COUNT(*)
    FROM {rows} r
    CROSS JOIN LATERAL (VALUES ('day', {PG_DAY.format(t="r")}), ('month', {PG_MONTH.format(t="r")})) AS k (span, starts_on)
    WHERE r.created_by_id IS NOT NULL
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    {ON_KEY};"""


def _pg_row(t: str, sign: str) -> str:
    return f"""
    IF {t}.created_by_id IS NOT NULL THEN
        INSERT INTO {COLUMNS} VALUES
            ('day', {PG_DAY.format(t=t)}, {t}.created_by_id, {t}.type, {sign}1),
            ('month', {PG_MONTH.format(t=t)}, {t}.created_by_id, {t}.type, {sign}1)
        {ON_KEY};
    END IF;"""


CHANGED = "OLD.occurred_at IS DISTINCT FROM NEW.occurred_at OR OLD.created_by_id IS DISTINCT FROM NEW.created_by_id OR OLD.type IS DISTINCT FROM NEW.type"

# Inserts and deletes are counted once per statement from the transition table (a bulk
# insert of 500 interactions is one upsert of its keys); updates per row.
POSTGRESQL_FORWARD = f"""
CREATE FUNCTION leads_interaction_tally_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_pg_grouped("new_rows", "")}
    RETURN NULL;
END $$;

CREATE FUNCTION leads_interaction_tally_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_pg_grouped("old_rows", "-")}
    RETURN NULL;
END $$;

CREATE FUNCTION leads_interaction_tally_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_pg_row("OLD", "-")} {_pg_row("NEW", "")}
    RETURN NULL;
END $$;

CREATE TRIGGER leads_interaction_tally_insert AFTER INSERT ON leads_interaction
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION leads_interaction_tally_inserted();
CREATE TRIGGER leads_interaction_tally_delete AFTER DELETE ON leads_interaction
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION leads_interaction_tally_deleted();
CREATE TRIGGER leads_interaction_tally_update AFTER UPDATE ON leads_interaction FOR EACH ROW
    WHEN ({CHANGED}) EXECUTE FUNCTION leads_interaction_tally_updated();
"""

POSTGRESQL_BACKWARD = """
DROP TRIGGER IF EXISTS leads_interaction_tally_insert ON leads_interaction;
DROP TRIGGER IF EXISTS leads_interaction_tally_delete ON leads_interaction;
DROP TRIGGER IF EXISTS leads_interaction_tally_update ON leads_interaction;
DROP FUNCTION IF EXISTS leads_interaction_tally_inserted();
DROP FUNCTION IF EXISTS leads_interaction_tally_deleted();
DROP FUNCTION IF EXISTS leads_interaction_tally_updated();
"""


def _sqlite_row(t: str, sign: str) -> str:
    # INSERT ... SELECT with a WHERE (an upsert's SELECT needs one in SQLite's grammar).
    return f"""
        INSERT INTO {COLUMNS}
        SELECT 'day', {SQLITE_DAY.format(t=t)}, {t}.created_by_id, {t}.type, {sign}1 WHERE {t}.created_by_id IS NOT NULL
        {ON_KEY};
        INSERT INTO {COLUMNS}
        SELECT 'month', {SQLITE_MONTH.format(t=t)}, {t}.created_by_id, {t}.type, {sign}1 WHERE {t}.created_by_id IS NOT NULL
        {ON_KEY};"""


# SQLite has row triggers only.
SQLITE_FORWARD = [
    f"""CREATE TRIGGER leads_interaction_tally_insert AFTER INSERT ON leads_interaction
        FOR EACH ROW BEGIN {_sqlite_row("NEW", "")} END""",
    f"""CREATE TRIGGER leads_interaction_tally_delete AFTER DELETE ON leads_interaction
        FOR EACH ROW BEGIN {_sqlite_row("OLD", "-")} END""",
    f"""CREATE TRIGGER leads_interaction_tally_update AFTER UPDATE ON leads_interaction
        FOR EACH ROW WHEN {CHANGED.replace("IS DISTINCT FROM", "IS NOT")}
        BEGIN {_sqlite_row("OLD", "-")} {_sqlite_row("NEW", "")} END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS leads_interaction_tally_insert",
    "DROP TRIGGER IF EXISTS leads_interaction_tally_delete",
    "DROP TRIGGER IF EXISTS leads_interaction_tally_update",
]


def _fill(day: str, month: str) -> str:
    return f"""
    INSERT INTO {COLUMNS}
    SELECT 'day', {day.format(t="i")}, i.created_by_id, i.type, COUNT(*) FROM leads_interaction i
    WHERE i.created_by_id IS NOT NULL GROUP BY 2, 3, 4
    UNION ALL
    SELECT 'month', {month.format(t="i")}, i.created_by_id, i.type, COUNT(*) FROM leads_interaction i
    WHERE i.created_by_id IS NOT NULL GROUP BY 2, 3, 4
    """


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # The triggers first: CREATE TRIGGER holds off writers to leads_interaction until
        # this migration commits, so none is missed or counted twice.
        schema_editor.execute(POSTGRESQL_FORWARD)
        schema_editor.execute(_fill(PG_DAY, PG_MONTH))
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
        schema_editor.execute(_fill(SQLITE_DAY, SQLITE_MONTH))
    else:
        raise NotImplementedError(f"activity tally triggers are written for PostgreSQL and SQLite, not {vendor}")


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in [POSTGRESQL_BACKWARD] if vendor == "postgresql" else SQLITE_BACKWARD:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0021_interaction_lead_source_type"),
    ]

    operations = [
        migrations.CreateModel(
            name="ActivityTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("span", models.CharField(choices=[("day", "Day"), ("month", "Month")], max_length=5)),
                ("starts_on", models.DateField()),
                ("agent_key", models.BigIntegerField()),
                ("type", models.CharField(max_length=16)),
                ("n", models.IntegerField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("span", "starts_on", "agent_key", "type"), name="activitytally_key"
                    )
                ],
                "indexes": [
                    models.Index(
                        fields=["span", "starts_on"], include=["agent_key", "type", "n"], name="activitytally_span_day"
                    )
                ],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
