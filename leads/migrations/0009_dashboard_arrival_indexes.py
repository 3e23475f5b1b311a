# The dashboard's figures over recent arrivals (leads.reports), served on PostgreSQL
# by index-only scans instead of reading every lead:
# - lead_live_arrivals: the live leads by arrival, carrying the columns the windowed
#   counts, the sources chart and the speed-to-lead medians read. Every included
#   column is already indexed elsewhere or (first_contacted_at) set together with a
#   status change, so the updates that were HOT stay HOT.
# - lead_new_contacted: the (few) new leads that have a first contact, subtracted from
#   the counters' new leads to give "waiting for first contact".
# Raw SQL, PostgreSQL only (INCLUDE and partial indexes): SQLite, the embedded default
# with little data, scans as before. Built CONCURRENTLY: writers are not held off.

from django.db import migrations

INDEXES = {
    "lead_live_arrivals": (
        "ON leads_lead (created_at) INCLUDE (status, source, assigned_to_id, first_contacted_at)"
        " WHERE archived_at IS NULL"
    ),
    "lead_new_contacted": (
        "ON leads_lead (assigned_to_id) WHERE status = 'new' AND first_contacted_at IS NOT NULL AND archived_at IS NULL"
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("leads", "0008_contact_search_trigram_indexes"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
