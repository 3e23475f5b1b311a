"""Demo agents and a recent, plausible history of their leads (``leads.demo``). Safe to
run again: once the demo leads exist, nothing is added.

The agents work in one team with a time zone and working hours. Integrations add their
part of the story after the leads through ``seed_<name>_demo`` commands listed in
``DEMO_HOOKS`` when installed (``leads`` imports none of them): routing's rules, pond
and trace; the follow-up plans; the chance-to-close history and model; the property matches
and their alerts."""

from datetime import time

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from leads.accounts.permissions import staff_flags_for
from leads.demo import DEMO_EMAIL_DOMAIN, plan_leads, write_plan
from leads.models import Lead, Role, Team, User, WorkingHours

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    ("manager", Role.MANAGER, "Morgan", "Reyes"),
    ("alice", Role.AGENT, "Alice", "Nguyen"),
    ("bob", Role.AGENT, "Bob", "Okafor"),
    ("carmen", Role.AGENT, "Carmen", "Silva"),
]
DEMO_TEAM = ("Downtown office", "America/Chicago")
# Weekly hours in the team's zone (Monday 0): the office, and each agent's shift, so that
# at most hours someone is working and someone is not (routing skips agents off hours).
OFFICE_HOURS = {day: (time(8), time(19)) for day in range(6)}
SHIFTS = {
    "alice": {day: (time(7), time(16)) for day in range(5)},
    "bob": {day: (time(11), time(20)) for day in range(1, 7)},
    "carmen": {day: (time(9), time(18)) for day in (0, 2, 3, 4, 5)},
}
# seed_webevents_demo after the plans: its website activity starts the "web activity" plan.
DEMO_HOOKS = [
    "seed_plans_demo",
    "seed_webevents_demo",
    "seed_routing_demo",
    "seed_reports_demo",
    "seed_winprob_demo",
    "seed_matches_demo",
    "seed_property_alerts_demo",  # after the matches: the alerts list them
]


class Command(BaseCommand):
    help = "Load demo users and a recent history of leads, interactions and follow-ups (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=80)

    def handle(self, *args, leads: int, **options):
        call_command("seed_market_demo", stdout=self.stdout)  # leads are analysed against it on create
        team = self._team()
        users = self._users(team)
        manager, agents = users["manager"], [users[name] for name, *_ in DEMO_USERS[1:]]
        existing = Lead.objects.filter(contact__email__endswith=DEMO_EMAIL_DOMAIN).count()
        if existing:
            self.stdout.write(f"Demo leads already present ({existing}); nothing added.")
        else:
            self._leads(manager, agents, leads)
            self.stdout.write(f"Created {leads} demo leads.")
        installed = get_commands()
        for hook in DEMO_HOOKS:
            if hook in installed:
                call_command(hook, stdout=self.stdout)
        self.stdout.write(f"Demo logins (password for each: {DEMO_PASSWORD}):")
        for username, role, *_ in DEMO_USERS:
            self.stdout.write(f"  {username:<8} {role}")

    def _team(self) -> Team:
        name, zone = DEMO_TEAM
        team, created = Team.objects.get_or_create(name=name, defaults={"time_zone": zone})
        if created:
            WorkingHours.objects.bulk_create(
                WorkingHours(team=team, weekday=day, starts_at=start, ends_at=end)
                for day, (start, end) in OFFICE_HOURS.items()
            )
        return team

    def _users(self, team: Team) -> dict[str, User]:
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
                    "team": team,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                WorkingHours.objects.bulk_create(
                    WorkingHours(user=user, weekday=day, starts_at=start, ends_at=end)
                    for day, (start, end) in SHIFTS.get(username, {}).items()
                )
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
