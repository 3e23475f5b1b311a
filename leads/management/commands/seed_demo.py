"""Demo agents and a recent, plausible history of their leads (``leads.demo``). Safe to
run again: once the demo leads exist, nothing is added."""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from leads.accounts.permissions import staff_flags_for
from leads.demo import DEMO_EMAIL_DOMAIN, plan_leads, write_plan
from leads.models import Lead, Role, User

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    ("manager", Role.MANAGER, "Morgan", "Reyes"),
    ("alice", Role.AGENT, "Alice", "Nguyen"),
    ("bob", Role.AGENT, "Bob", "Okafor"),
    ("carmen", Role.AGENT, "Carmen", "Silva"),
]


class Command(BaseCommand):
    help = "Load demo users and a recent history of leads, interactions and follow-ups (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=80)

    def handle(self, *args, leads: int, **options):
        call_command("seed_market_demo", stdout=self.stdout)  # leads are analysed against it on create
        users = self._users()
        manager, agents = users["manager"], [users[name] for name, *_ in DEMO_USERS[1:]]
        existing = Lead.objects.filter(contact__email__endswith=DEMO_EMAIL_DOMAIN).count()
        if existing:
            self.stdout.write(f"Demo leads already present ({existing}); nothing added.")
        else:
            self._leads(manager, agents, leads)
            self.stdout.write(f"Created {leads} demo leads.")
        # The follow-up plans (integrations.plans), called by name: leads imports no integration.
        call_command("seed_plans_demo", stdout=self.stdout)
        self.stdout.write(f"Demo logins (password for each: {DEMO_PASSWORD}):")
        for username, role, *_ in DEMO_USERS:
            self.stdout.write(f"  {username:<8} {role}")

    def _users(self) -> dict[str, User]:
        users = {}
        for username, role, first, last in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "role": role,
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@demo.example.com",
                    "is_staff": staff_flags_for(role)["is_staff"],
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            users[username] = user
        for username, *_ in DEMO_USERS[1:]:  # the agents report to the manager
            if users[username].manager_id is None:
                users[username].manager = users["manager"]
                users[username].save(update_fields=["manager"])
        return users

    @transaction.atomic
    def _leads(self, manager: User, agents: list[User], count: int) -> None:
        # One transaction: the after-save work (first-contact deadlines, scores) runs on
        # commit, once every lead is dated and its history written.
        write_plan(plan_leads(count, now=timezone.now()), manager=manager, agents=agents)
