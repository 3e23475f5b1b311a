# The funnel and the stuck leads over recent arrivals (leads.reports) read by an
# index-only scan: the live leads by arrival with the columns those reports group and
# filter by (the stage figures of 0019, status, source, agent, lead type). The columns
# move together with a status change (already in lead_live_arrivals), so no update that
# was HOT stops being HOT but a lead type's change. PostgreSQL only (INCLUDE, partial);
# built CONCURRENTLY, as 0009.

from django.db import migrations

INDEX = (
    "lead_live_stage",
    "ON leads_lead (created_at) INCLUDE (status, furthest_stage, stage_entered_at, source, assigned_to_id, lead_type)"
    " WHERE archived_at IS NULL",
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX[0]} {INDEX[1]}")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX[0]}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("leads", "0019_stage_figures"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
