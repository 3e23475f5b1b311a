from django.core.management.base import BaseCommand

from integrations.alerts.vapid import generate_keys


class Command(BaseCommand):
    help = "Print a new VAPID key pair for web push, as the two settings to put in the environment."

    def handle(self, *args, **options):
        keys = generate_keys()
        self.stdout.write(f"WEBPUSH_VAPID_PRIVATE_KEY={keys.private_key}")
        self.stdout.write(f"WEBPUSH_VAPID_PUBLIC_KEY={keys.public_key}")
