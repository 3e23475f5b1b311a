from django.apps import AppConfig


class MatchesConfig(AppConfig):
    name = "integrations.matches"
    label = "matches"
    verbose_name = "Property matches"

    def ready(self) -> None:
        from integrations.market.imports import on_listing_changes
        from integrations.matches import lead_section, tasks
        from leads import ports

        # A lead's new or changed preferences (or status): its index rows, then its matches.
        ports.subscribe("matches", tasks.on_lead_events)
        # Each committed listing import with changes queues the matching of those changes.
        on_listing_changes(tasks.on_listing_changes)
        # The lead page's "Property matches" card.
        ports.provide_lead_page_section("matches", lead_section.lead_matches_section)
