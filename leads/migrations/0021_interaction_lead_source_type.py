# Each interaction carries its lead's source and type, for the leaderboard's activity
# narrowed by source or type (leads.reports.leaderboard): one index range of
# interaction_occurred_by instead of a join that hashes every lead of that source or
# type. Kept by triggers, as the lead counters are (0006), so no writer can miss them:
# - an interaction inserted, or moved to another lead (a merge and its undo), takes its
#   lead's values;
# - a lead whose source or type changes passes them to its interactions.
# Filled here with one UPDATE; the index is rebuilt after it.

from django.db import migrations, models

POSTGRESQL_FORWARD = """
CREATE FUNCTION leads_interaction_take_lead() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT l.source, l.lead_type INTO NEW.lead_source, NEW.lead_type FROM leads_lead l WHERE l.id = NEW.lead_id;
    RETURN NEW;
END $$;

CREATE TRIGGER leads_interaction_take_lead BEFORE INSERT OR UPDATE OF lead_id, lead_source, lead_type
    ON leads_interaction FOR EACH ROW EXECUTE FUNCTION leads_interaction_take_lead();

CREATE FUNCTION leads_lead_pass_to_interactions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE leads_interaction SET lead_source = NEW.source, lead_type = NEW.lead_type WHERE lead_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER leads_lead_pass_to_interactions AFTER UPDATE ON leads_lead FOR EACH ROW
    WHEN (OLD.source IS DISTINCT FROM NEW.source OR OLD.lead_type IS DISTINCT FROM NEW.lead_type)
    EXECUTE FUNCTION leads_lead_pass_to_interactions();
"""

POSTGRESQL_BACKWARD = """
DROP TRIGGER IF EXISTS leads_lead_pass_to_interactions ON leads_lead;
DROP FUNCTION IF EXISTS leads_lead_pass_to_interactions();
DROP TRIGGER IF EXISTS leads_interaction_take_lead ON leads_interaction;
DROP FUNCTION IF EXISTS leads_interaction_take_lead();
"""

SQLITE_TAKE = (
    "UPDATE leads_interaction SET"
    " lead_source = (SELECT l.source FROM leads_lead l WHERE l.id = NEW.lead_id),"
    " lead_type = (SELECT l.lead_type FROM leads_lead l WHERE l.id = NEW.lead_id)"
    " WHERE id = NEW.id;"
)
SQLITE_FORWARD = [
    f"""CREATE TRIGGER leads_interaction_take_lead AFTER INSERT ON leads_interaction
        FOR EACH ROW BEGIN {SQLITE_TAKE} END""",
    f"""CREATE TRIGGER leads_interaction_move_lead AFTER UPDATE OF lead_id, lead_source, lead_type
        ON leads_interaction FOR EACH ROW BEGIN {SQLITE_TAKE} END""",
    """CREATE TRIGGER leads_lead_pass_to_interactions AFTER UPDATE ON leads_lead
        FOR EACH ROW WHEN OLD.source IS NOT NEW.source OR OLD.lead_type IS NOT NEW.lead_type
        BEGIN
            UPDATE leads_interaction SET lead_source = NEW.source, lead_type = NEW.lead_type
            WHERE lead_id = NEW.id;
        END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS leads_interaction_take_lead",
    "DROP TRIGGER IF EXISTS leads_interaction_move_lead",
    "DROP TRIGGER IF EXISTS leads_lead_pass_to_interactions",
]

FILL = {
    "postgresql": (
        "UPDATE leads_interaction i SET lead_source = l.source, lead_type = l.lead_type"
        " FROM leads_lead l WHERE l.id = i.lead_id"
    ),
    "sqlite": (
        "UPDATE leads_interaction SET lead_source = l.source, lead_type = l.lead_type"
        " FROM leads_lead l WHERE l.id = leads_interaction.lead_id"
    ),
}


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    # Filled before the triggers exist (on PostgreSQL the insert trigger would look up
    # each row's lead again).
    schema_editor.execute(FILL[vendor])
    for statement in [POSTGRESQL_FORWARD] if vendor == "postgresql" else SQLITE_FORWARD:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in [POSTGRESQL_BACKWARD] if vendor == "postgresql" else SQLITE_BACKWARD:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0020_lead_stage_arrivals_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="interaction",
            name="interaction_occurred_by",
        ),
        migrations.AddField(
            model_name="interaction",
            name="lead_source",
            field=models.CharField(blank=True, default="", editable=False, max_length=24),
        ),
        migrations.AddField(
            model_name="interaction",
            name="lead_type",
            field=models.CharField(blank=True, default="", editable=False, max_length=16),
        ),
        migrations.RunPython(forward, backward),
        migrations.AddIndex(
            model_name="interaction",
            index=models.Index(
                fields=["occurred_at", "created_by", "type"],
                include=("lead_source", "lead_type"),
                name="interaction_occurred_by",
            ),
        ),
    ]
