"""The demo's follow-up plans (``integrations.plans.demo``); safe to run again."""

from django.core.management.base import BaseCommand

from integrations.plans import demo

DEMO_EMAIL_DOMAIN = "@demo-leads.example.com"  # leads.demo's; kept in step by test_seed_demo_plans


class Command(BaseCommand):
    help = "Add the demo follow-up plans (new web lead, nurture) and start them for the demo leads that fit."

    def handle(self, *args, **options):
        counts = demo.seed(demo_email_domain=DEMO_EMAIL_DOMAIN)
        for name, count in counts.items():
            self.stdout.write(f"Plan {name!r}: {count} demo lead(s) started now.")
