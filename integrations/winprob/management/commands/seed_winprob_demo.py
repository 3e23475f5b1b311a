"""The chance-to-close part of the demo (run by ``seed_demo``): two years of closed, lost and
open history leads from the documented hidden process (``integrations.winprob.history``),
a model trained on them, and every open lead scored. Safe to run again: once the history
exists, nothing is added; a model is trained only when none exists."""

from django.core.management.base import BaseCommand
from django.db.models import Q

from integrations.scoring.services import rescore_stale_leads
from integrations.winprob import history, selectors, services, training
from leads.models import Lead, Team, User

DEMO_HISTORY_LEADS = 2500


class Command(BaseCommand):
    help = "Chance-to-close demo: a history with outcomes, a trained model, open leads scored (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=DEMO_HISTORY_LEADS)

    def handle(self, *args, leads: int, **options):
        if _has_history():
            self.stdout.write("Chance-to-close history already present; nothing added.")
        else:
            agents = list(User.objects.filter(username__in=["alice", "bob", "carmen"]).order_by("username"))
            team = agents[0].team if agents else Team.objects.order_by("pk").first()
            history.generate(leads, days=720, team=team, agents=agents)
            # The rule-based score of the history, so the lead pages show both scores.
            while rescore_stale_leads() and not _all_scored():
                pass
            self.stdout.write(
                f"Created {leads} history leads with outcomes (hidden process: integrations.winprob.history)."
            )
        if selectors.latest_model() is None:
            record = training.train_model()
            self.stdout.write(f"Chance-to-close model v{record.version}: {record.decision}")
        scored = services.predict_open_leads()
        self.stdout.write(f"Scored {scored} open lead(s).")


def _has_history() -> bool:
    emails = Q()
    for domain in history.HISTORY_EMAIL_DOMAINS:
        emails |= Q(contact__email__endswith=f"@{domain}")
    return Lead.objects.filter(emails).exists()


def _all_scored() -> bool:
    return not Lead.objects.filter(score__isnull=True, archived_at__isnull=True).exists()
