# Free-text search on PostgreSQL (leads.core.search): a tsvector of each contact's names and
# email (weight A: words, split at anything that is not a letter or digit) and phone (weight
# B: the digits, the digits without a 1-3 digit country code, and the digits reversed after an
# "r", so the last digits of a number are a prefix too), kept by PostgreSQL itself on every
# write (a stored generated column), with a GIN index. The model does not declare the column:
# only the search reads it. SQLite (the embedded default, small data) scans with icontains.

from django.db import migrations

DIGITS = "regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g')"
DOCUMENT = f"""
setweight(to_tsvector('simple'::regconfig, regexp_replace(
    coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, ''),
    '[^[:alnum:]]+', ' ', 'g')), 'A')
|| setweight(to_tsvector('simple'::regconfig, CASE WHEN {DIGITS} = '' THEN '' ELSE
    {DIGITS} || ' ' || substr({DIGITS}, 2) || ' ' || substr({DIGITS}, 3) || ' ' || substr({DIGITS}, 4)
    || ' r' || reverse({DIGITS}) END), 'B')
"""


def add_search_document(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE leads_contact ADD COLUMN IF NOT EXISTS search_document tsvector "
        f"GENERATED ALWAYS AS ({DOCUMENT}) STORED"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS contact_search_document ON leads_contact USING gin (search_document)"
    )


def drop_search_document(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS contact_search_document")
    schema_editor.execute("ALTER TABLE leads_contact DROP COLUMN IF EXISTS search_document")


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0015_deals_spend_and_weekly_report"),
    ]

    operations = [migrations.RunPython(add_search_document, drop_search_document)]
