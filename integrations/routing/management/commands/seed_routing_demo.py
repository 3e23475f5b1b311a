"""Routing's part of the demo (``integrations.routing.demo``), run by ``seed_demo`` once
the demo team and its leads exist. Safe to run again: once the rules exist, nothing is added."""

from django.core.management.base import BaseCommand

from integrations.routing import demo
from leads.models import User

MANAGER = "manager"
AGENTS = ("alice", "bob", "carmen")


class Command(BaseCommand):
    help = "Routing demo: the team's rules, a month of routing history, offers and a pond (idempotent)."

    def handle(self, *args, **options):
        users = {user.username: user for user in User.objects.filter(username__in=[MANAGER, *AGENTS])}
        if set(users) != {MANAGER, *AGENTS}:
            self.stdout.write("Routing demo skipped: run seed_demo first (it creates the demo team).")
            return
        agents = {name: users[name] for name in AGENTS}
        self.stdout.write(demo.seed(manager=users[MANAGER], agents=agents))
        news = demo.arrivals(manager=users[MANAGER])
        if news:
            self.stdout.write(news)
