from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "integrations.scoring"
    label = "scoring"
