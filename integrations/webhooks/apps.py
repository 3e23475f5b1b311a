from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "integrations.webhooks"
    label = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        from integrations.webhooks import tasks
        from leads import ports

        # Subscribers receive every lead event their owner may see.
        ports.subscribe("webhooks", tasks.on_lead_events)
