from django.apps import AppConfig


class PropertyAlertsConfig(AppConfig):
    name = "integrations.property_alerts"
    label = "property_alerts"
    verbose_name = "Property alerts"

    def ready(self) -> None:
        from integrations.property_alerts import lead_section
        from leads import ports

        # The lead page's "Property alerts" card: placed by the page, its body loads on its own.
        ports.provide_lead_page_section("property_alerts", lead_section.lead_alerts_section)
