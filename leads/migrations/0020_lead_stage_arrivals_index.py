# The funnel and the stuck leads over recent arrivals (leads.reports) read by an
# index-only scan: the live leads by arrival with the columns those reports group and
# filter by (the stage figures of 0019, status, source, agent, lead type) and the id
# the stuck leads list. The stage figures move with a status change (already in
# lead_live_arrivals), so no update that was HOT stops being HOT but a lead type's
# change. And the archived leads by arrival (below). PostgreSQL only (INCLUDE, partial);
# built CONCURRENTLY, as 0009.

from django.db import migrations

INDEXES = {
    "lead_live_stage": (
        "ON leads_lead (created_at)"
        " INCLUDE (id, status, furthest_stage, stage_entered_at, source, assigned_to_id, lead_type)"
        " WHERE archived_at IS NULL"
    ),
    # The (few) archived leads by arrival: what time in stage leaves out of a range's
    # stays when nothing else narrows them (leads.reports.stages.median_days).
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
