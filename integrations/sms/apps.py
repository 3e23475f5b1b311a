from django.apps import AppConfig


class SmsConfig(AppConfig):
    name = "integrations.sms"
    label = "sms"
    verbose_name = "Text messages"
