from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "integrations.scoring"
    label = "scoring"

    def ready(self) -> None:
        from integrations.scoring import tasks
        from leads import ports

        # Website activity rescores the lead (engagement) without a pipeline run.
        ports.subscribe("scoring", tasks.on_lead_events)
