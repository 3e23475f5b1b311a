from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from integrations import periodic, tasks
        from leads import ports

        # The after-save pipeline reacts to every committed save of a lead.
        ports.subscribe("pipeline", tasks.on_lead_events)
        # Managers are told on the dashboard when a periodic job keeps failing.
        ports.provide_manager_notices("failing_jobs", periodic.failing_jobs)
