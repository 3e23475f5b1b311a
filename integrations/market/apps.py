from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "integrations.market"
    label = "market"
