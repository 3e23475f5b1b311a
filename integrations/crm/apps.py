from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "integrations.crm"
    label = "crm"
    verbose_name = "CRM sync"

    def ready(self) -> None:
        from integrations.crm import checks  # noqa: F401  (registers the system checks)
