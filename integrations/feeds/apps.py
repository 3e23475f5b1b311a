from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "integrations.feeds"
    label = "feeds"
    verbose_name = "Listing feeds"
