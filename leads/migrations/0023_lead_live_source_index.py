# The list filtered by source (``?source=zillow``, leads.core.filters) counted its total
# by reading every live lead's index entry (the source is not a column the lead counters
# keep): 119 ms at a million leads. lead_live_source holds the live leads by source in
# list order, so the total is an index-only range and the page the first 20 entries of it.
# PostgreSQL only (partial); built CONCURRENTLY, as 0009 and 0020.

from django.db import migrations

INDEX = "lead_live_source"
DEFINITION = "ON leads_lead (source, created_at DESC, id DESC) WHERE archived_at IS NULL"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} {DEFINITION}")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("leads", "0022_activity_tally"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
