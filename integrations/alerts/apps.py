from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "integrations.alerts"
    label = "alerts"
    verbose_name = "Agent alerts"

    def ready(self) -> None:
        from integrations.alerts import channels, checks, tasks  # noqa: F401  (checks registers itself)
        from integrations.sms import services as sms
        from leads import ports

        # A lead's new assignee is alerted, whoever assigned it.
        ports.subscribe("alerts", tasks.on_lead_events, urgent=True)
        # An alert's text that was delivered, or could not be, moves the alert along.
        sms.listen(channels.SMS_PURPOSE, tasks.on_sms_status)
