"""A catch-all rule for the install without teams and for every team: a lead always has a route."""

from django.db import migrations


def make_catch_alls(apps, schema_editor):
    RoutingRule = apps.get_model("routing", "RoutingRule")
    Team = apps.get_model("leads", "Team")
    for team in [None, *Team.objects.all()]:
        RoutingRule.objects.get_or_create(
            team=team,
            is_catch_all=True,
            defaults={"name": "Everyone else (catch-all)", "position": 1_000_000, "fallback": "pond"},
        )


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial"), ("leads", "0014_import_route_unassigned")]

    operations = [migrations.RunPython(make_catch_alls, migrations.RunPython.noop)]
