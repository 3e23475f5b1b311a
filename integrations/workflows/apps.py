from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "integrations.workflows"
    label = "workflows"
