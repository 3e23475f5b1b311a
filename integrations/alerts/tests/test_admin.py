"""The back office pages of alerts: read-only lists with each channel's fate, and replay."""

import pytest
from django.core import mail
from django.urls import reverse

from integrations.alerts import tasks
from integrations.alerts.models import AgentAlert, AlertDelivery
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(alert_settings, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_agent_alert(user=agent, lead=LeadFactory(), reason="offer")
    return AgentAlert.objects.get()


def test_the_alert_pages_show_each_channel_and_cannot_edit(client, admin_user, alert):
    client.force_login(admin_user)
    listing = client.get(reverse("admin:alerts_agentalert_changelist"))
    assert listing.status_code == 200 and alert.payload["title"] in listing.content.decode()
    detail = client.get(reverse("admin:alerts_agentalert_change", args=[alert.pk])).content.decode()
    assert "No browser of theirs is subscribed to pushes." in detail
    assert 'name="_save"' not in detail
    deliveries = client.get(reverse("admin:alerts_alertdelivery_changelist"))
    assert deliveries.status_code == 200
    assert client.get(reverse("admin:alerts_alertdelivery_add")).status_code == 403


def test_replaying_from_the_admin_sends_again(client, admin_user, alert, django_capture_on_commit_callbacks):
    client.force_login(admin_user)
    email = alert.deliveries.get(channel="email")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:alerts_alertdelivery_changelist"),
            {"action": "replay_selected", "_selected_action": [email.pk]},
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 2
    assert AlertDelivery.objects.get(pk=email.pk).attempts == 1


def test_staff_without_the_change_permission_cannot_replay(client, manager, alert):
    client.force_login(manager)
    assert client.get(reverse("admin:alerts_agentalert_changelist")).status_code == 403
