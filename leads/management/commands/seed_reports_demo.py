"""The reports' demo data (``leads.reports.demo``): run by ``seed_demo`` after the leads."""

from django.core.management.base import BaseCommand

from leads.management.commands.seed_demo import DEMO_TEAM
from leads.models import Team
from leads.reports.demo import seed_reports_demo


class Command(BaseCommand):
    help = "Date the demo leads' pipeline history, add their deals' dates and three months of source spend."

    def handle(self, *args, **options):
        team = Team.objects.filter(name=DEMO_TEAM[0]).first()
        if seed_reports_demo(team=team):
            self.stdout.write("Reports demo: pipeline history dated, deals and source spend added.")
        else:
            self.stdout.write("Reports demo already present; nothing added.")
