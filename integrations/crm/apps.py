from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "integrations.crm"
    label = "crm"
    verbose_name = "CRM sync"

    def ready(self) -> None:
        from integrations.crm import checks  # noqa: F401  (registers the system checks)
        from integrations.crm.selectors import sync_state_for_lead
        from leads import ports

        ports.provide_lead_page_section("crm_sync", sync_state_for_lead)
