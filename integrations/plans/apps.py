from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "integrations.plans"
    label = "plans"
    verbose_name = "Follow-up plans"

    def ready(self) -> None:
        from integrations.plans import inbound, triggers
        from integrations.sms import services as sms
        from leads import ports

        # New leads, status changes, tags and replies start and pause plans.
        ports.subscribe("plans", triggers.on_lead_events)
        # Texts the lead sends back (STOP, START, anything else).
        sms.listen_inbound("plans", inbound.on_inbound_text)
        # The lead page's "Plans" card: enrolments, start/stop, consent, what will happen.
        from integrations.plans.lead_section import lead_plans_section

        ports.provide_lead_page_section("plans", lead_plans_section)
