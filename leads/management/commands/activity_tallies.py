from django.core.management.base import BaseCommand, CommandError

from leads.reports import activity


class Command(BaseCommand):
    help = (
        "Check the activity tallies (interactions per agent, type and UTC day and month, leads.reports.activity) "
        "against the interactions, or recount them from scratch."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--check", action="store_true", help="Exit 1 when a tally differs from the interactions.")
        action.add_argument("--rebuild", action="store_true", help="Recount every tally from the interactions.")

    def handle(self, *args, check, rebuild, **options):
        if rebuild:
            activity.rebuild()
            self.stdout.write("Recounted the activity tallies.")
            return
        wrong = activity.differences()
        for (span, first, agent_id, kind), (tallied, actual) in sorted(wrong.items()):
            self.stdout.write(f"{span} of {first}, agent {agent_id}, {kind}: tallied {tallied}, actual {actual}")
        if wrong:
            raise CommandError(f"{len(wrong)} tallies differ from the interactions; run activity_tallies --rebuild.")
        self.stdout.write("The activity tallies match the interactions.")
