# Reports over recent arrivals (leads.reports) read by index-only scans:
# - lead_live_stage: the live leads by arrival with the columns the funnel, the stuck
#   leads and the leaderboard's arrivals group and filter by (the stage figures of 0019,
#   status, source, agent, lead type, first contact, SLA outcome) and the id the stuck
#   leads list. The stage figures move with a status change and first_contacted_at is
#   already in lead_live_arrivals, so the updates that lose HOT are a lead type's change
#   and the SLA's settling (once per lead).
# - lead_archived_arrivals: the (few) archived leads by arrival, what time in stage
#   leaves out of a range's stays when nothing else narrows them.
# PostgreSQL only (INCLUDE, partial); built CONCURRENTLY, as 0009.

from django.db import migrations

INDEXES = {
    "lead_live_stage": (
        "ON leads_lead (created_at)"
        " INCLUDE (id, status, furthest_stage, stage_entered_at, source, assigned_to_id, lead_type,"
        " first_contacted_at, sla_status)"
        " WHERE archived_at IS NULL"
    ),
    "lead_archived_arrivals": "ON leads_lead (created_at) INCLUDE (id) WHERE archived_at IS NOT NULL",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("leads", "0019_stage_figures"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
