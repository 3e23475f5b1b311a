"""The welcome email through a real SMTP server on loopback (aiosmtpd)."""

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from integrations.workflows.services import start_for_leads
from leads.models import Lead

pytestmark = pytest.mark.django_db


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_inbox(settings):
    """A real SMTP server on 127.0.0.1 and Django's SMTP backend pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.SITE_URL = "http://testserver"
    yield inbox
    controller.stop()


def test_the_welcome_email_arrives_over_smtp_with_a_working_unsubscribe_link(new_lead, smtp_inbox, client):
    # given a new lead with an email address
    lead = new_lead(contact__first_name="Katherine", contact__email="katherine@example.com")

    # when its workflows run with the SMTP backend
    start_for_leads([(lead.pk, "created")])

    # then the SMTP server received the welcome message
    (envelope,) = smtp_inbox.envelopes
    assert envelope.rcpt_tos == ["katherine@example.com"]
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == "Thanks for reaching out: here's what happens next"
    assert message["To"] == "katherine@example.com"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert text.startswith("Hi Katherine,")
    link = message["List-Unsubscribe"].strip().strip("<>")  # a folded header keeps its leading space
    assert link.startswith("http://testserver/unsubscribe/")
    assert link in text and link in html
    # and the link it carries opts the lead out
    response = client.post(link.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert Lead.objects.get(pk=lead.pk).contact.email_opt_out is True
