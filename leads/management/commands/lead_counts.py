from django.core.management.base import BaseCommand, CommandError

from leads.reporting import counts


class Command(BaseCommand):
    help = (
        "Check the maintained lead counts (leads.reporting.counts) against the lead table, fold their change rows, "
        "or recount them from scratch."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--check", action="store_true", help="Exit 1 when a count differs from the leads.")
        action.add_argument("--compact", action="store_true", help="Fold the change rows into one row per key.")
        action.add_argument("--rebuild", action="store_true", help="Recount every key from the lead table.")

    def handle(self, *args, check, compact, rebuild, **options):
        if compact:
            self.stdout.write(f"Folded {counts.compact()} change rows.")
        elif rebuild:
            counts.rebuild()
            self.stdout.write("Recounted the leads.")
        else:
            wrong = counts.differences()
            for (agent_key, status, lead_type), (counted, actual) in sorted(wrong.items()):
                self.stdout.write(f"agent {agent_key}, {status}, {lead_type}: counted {counted}, actual {actual}")
            if wrong:
                raise CommandError(f"{len(wrong)} counts differ from the leads; run lead_counts --rebuild.")
            self.stdout.write("The lead counts match the leads.")
