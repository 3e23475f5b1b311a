from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from integrations import tasks
        from leads.events import services as lead_events

        # The after-save pipeline reacts to every committed save of a lead.
        lead_events.subscribe("pipeline", tasks.on_lead_events)
