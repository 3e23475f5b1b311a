"""The demo's property alerts (``integrations.property_alerts.demo``); safe to run again."""

from django.core.management.base import BaseCommand

from integrations.property_alerts import demo

DEMO_EMAIL_DOMAIN = "@demo-leads.example.com"  # leads.demo's; kept in step by test_demo


class Command(BaseCommand):
    help = "Give the first demo buyers alert settings (each frequency, one slowed, one paused) and a few sent alerts."

    def handle(self, *args, **options):
        count = demo.seed(demo_email_domain=DEMO_EMAIL_DOMAIN)
        self.stdout.write(f"Property alerts: {count} demo lead(s) given alert settings and alerts.")
