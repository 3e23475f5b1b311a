from django.apps import AppConfig


class PropertyAlertsConfig(AppConfig):
    name = "integrations.property_alerts"
    label = "property_alerts"
    verbose_name = "Property alerts"

    def ready(self) -> None:
        from integrations.matches.services import on_new_matches
        from integrations.property_alerts import lead_section, tasks
        from leads import ports

        # A lead on instant alerts gets its new matches as soon as the matching commits them
        # (the two-minute job sends what a lost message leaves).
        on_new_matches(tasks.on_new_matches)
        # The lead page's "Property alerts" card: placed by the page, its body loads on its own.
        ports.provide_lead_page_section("property_alerts", lead_section.lead_alerts_section)
