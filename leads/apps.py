from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads"

    def ready(self):
        from leads import checks  # noqa: F401  (registers the deployment checks)
        from leads.reporting import triggers

        # Infrastructure, not business flow: SQLite loses a table's triggers when a
        # migration rebuilds it, and the lead counters depend on them.
        post_migrate.connect(triggers.after_migrate, sender=self, dispatch_uid="leads_count_triggers")
