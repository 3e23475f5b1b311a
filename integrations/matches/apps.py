from django.apps import AppConfig


class MatchesConfig(AppConfig):
    name = "integrations.matches"
    label = "matches"
    verbose_name = "Property matches"
