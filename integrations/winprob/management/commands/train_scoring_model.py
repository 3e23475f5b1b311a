"""Train the chance-to-close model now (the nightly job does the same), backtest it against
the rule-based score, keep it in use only if it passes the guard, then score the open leads."""

import sys

from django.core.management.base import BaseCommand

from integrations.winprob import services, training
from integrations.winprob.models import ModelStatus

BAR = 30


class Command(BaseCommand):
    help = "Train, backtest and (if it passes the guard) use a new chance-to-close model; then score open leads."

    def add_arguments(self, parser):
        parser.add_argument("--no-scoring", action="store_true", help="Train only; leave the open leads' chances.")

    def handle(self, *args, no_scoring: bool, **options):
        interactive = getattr(self.stdout, "isatty", lambda: False)()
        record = training.train_model(progress=self._bar(interactive))
        if interactive:
            self.stdout.write("")
        self.stdout.write(f"Model v{record.version}: {record.get_status_display()}. {record.decision}")
        figures = record.metrics or {}
        if figures.get("model"):
            model, rules = figures["model"], figures["rules"]
            self.stdout.write(
                f"Held-out leads: {model['leads']} ({model['won']} won). "
                f"AUC model {model['auc']} / rules {rules['auc']}; "
                f"Brier model {model['brier']} / rules {rules['brier']}."
            )
        self.stdout.write(f"Training took {record.training_seconds} s.")
        if not no_scoring:
            scored = services.predict_open_leads()
            in_use = "the model in use" if record.status == ModelStatus.IN_USE else "the previous model, if any"
            self.stdout.write(f"Scored {scored} open lead(s) with {in_use}.")

    def _bar(self, interactive: bool):
        def show(what: str, percent: int) -> None:
            filled = BAR * percent // 100
            line = f"[{'#' * filled}{'.' * (BAR - filled)}] {percent:3d}% {what}"
            if interactive:
                self.stdout.write(f"\r{line:<70}", ending="")
                sys.stdout.flush()
            else:
                self.stdout.write(line)

        return show
