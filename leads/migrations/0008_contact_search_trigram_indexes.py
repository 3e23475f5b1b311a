# Free-text search (LeadFilter.filter_search: icontains on names and email, contains
# on phone digits) served by trigram indexes on PostgreSQL. Django's icontains is
# UPPER(col::text) LIKE UPPER(%s), so the indexes are on the same expressions.
# SQLite (the embedded default, small data) scans, as before.

from django.db import migrations

INDEXED = {
    "contact_first_name_trgm": "UPPER(first_name)",
    "contact_last_name_trgm": "UPPER(last_name)",
    "contact_email_trgm": "UPPER(email)",
    "contact_phone_trgm": "phone",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXED.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON leads_contact USING gin ({expression} gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0007_lead_counts_team_rows"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
