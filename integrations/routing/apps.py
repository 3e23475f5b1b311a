from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "integrations.routing"
    label = "routing"
    verbose_name = "Lead routing"

    def ready(self) -> None:
        from integrations.routing import tasks
        from leads import ports

        # Leads that arrive unassigned are routed once their save commits.
        ports.subscribe("routing", tasks.on_lead_events, urgent=True)
        # The lead page's routing card: the trace of the lead's decisions.
        from integrations.routing.lead_card import lead_routing_section

        ports.provide_lead_page_section("routing", lead_routing_section)
