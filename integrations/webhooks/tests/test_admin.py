"""The back office: the delivery log (filters, search, replay) and subscriptions
(pause/resume), never showing a secret."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from integrations.crm.tests.conftest import Reply
from integrations.webhooks.models import DeliveryStatus, WebhookEvent
from integrations.webhooks.tests.factories import WebhookDeliveryFactory, WebhookSubscriptionFactory
from integrations.webhooks.tests.saves import tag
from leads.models import Role
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

DELIVERIES = reverse("admin:webhooks_webhookdelivery_changelist")
SUBSCRIPTIONS = reverse("admin:webhooks_webhooksubscription_changelist")


def test_the_log_filters_by_status_and_event_and_finds_a_lead(client, admin_user):
    dead = WebhookDeliveryFactory(status=DeliveryStatus.DEAD, event="lead.scored", lead_public_id="lead_" + "a" * 24)
    delivered = WebhookDeliveryFactory(status=DeliveryStatus.DELIVERED, lead_public_id="lead_" + "b" * 24)
    client.force_login(admin_user)
    by_status = client.get(DELIVERIES, {"status__exact": "dead", "event__exact": "lead.scored"}).content.decode()
    assert dead.lead_public_id in by_status and delivered.lead_public_id not in by_status
    by_lead = client.get(DELIVERIES, {"q": delivered.lead_public_id}).content.decode()
    assert delivered.lead_public_id in by_lead and dead.lead_public_id not in by_lead


def test_replay_selected_sends_dead_deliveries_again(
    client, admin_user, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a delivery that died on a 404 the receiver has since fixed
    subscription = subscribe(WebhookEvent.UPDATED)
    receiver.answer(Reply(404, "no such hook"))
    with django_capture_on_commit_callbacks(execute=True):
        tag(LeadFactory(), admin_user)
    delivery = subscription.deliveries.get()
    assert delivery.status == DeliveryStatus.DEAD
    client.force_login(admin_user)
    # when the back office replays it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            DELIVERIES, {"action": "replay_selected", "_selected_action": [delivery.pk]}, follow=True
        )
    # then it is delivered, with the same idempotency key
    assert "Queued 1 delivery(ies) again." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [request.headers["idempotency-key"] for request in receiver.received] == [str(delivery.event_id)] * 2


def test_replay_needs_its_permission(client):
    # given a staff manager who may view the log but not replay (nothing is sent here:
    # the replay's sending is queued after a commit the test transaction never makes)
    delivery = WebhookDeliveryFactory(status=DeliveryStatus.DEAD)
    staff = UserFactory(username="staff_sam", role=Role.MANAGER, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(staff)
    assert client.get(DELIVERIES).status_code == 200
    # when they try the action anyway
    client.post(DELIVERIES, {"action": "replay_selected", "_selected_action": [delivery.pk]})
    # then nothing changed
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    # and with the permission it works
    staff.user_permissions.add(Permission.objects.get(codename="replay_webhookdelivery"))
    client.post(DELIVERIES, {"action": "replay_selected", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)


def test_replay_selected_skips_deliveries_of_paused_webhooks_and_says_so(client, admin_user):
    # given dead deliveries of an active and of a paused webhook
    live = WebhookDeliveryFactory(status=DeliveryStatus.DEAD)
    paused = WebhookDeliveryFactory(status=DeliveryStatus.DEAD, subscription=WebhookSubscriptionFactory(active=False))
    client.force_login(admin_user)
    # when both are replayed
    response = client.post(
        DELIVERIES, {"action": "replay_selected", "_selected_action": [live.pk, paused.pk]}, follow=True
    )
    # then only the active webhook's is queued again, and the page says why the other was not
    assert "Queued 1 delivery(ies) again. 1 skipped: their webhook is paused." in response.content.decode()
    live.refresh_from_db()
    paused.refresh_from_db()
    assert (live.status, paused.status) == (DeliveryStatus.PENDING, DeliveryStatus.DEAD)


def test_subscriptions_never_show_their_secret(client, admin_user):
    subscription = WebhookSubscriptionFactory(secret="whsec_never-show-this-0001")
    client.force_login(admin_user)
    pages = [
        client.get(SUBSCRIPTIONS).content.decode(),
        client.get(reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk])).content.decode(),
    ]
    assert all(subscription.name in page for page in pages)
    assert not any("whsec_never-show-this-0001" in page for page in pages)


def test_pause_and_resume_selected(client, admin_user):
    subscription = WebhookSubscriptionFactory()
    client.force_login(admin_user)
    client.post(SUBSCRIPTIONS, {"action": "pause_selected", "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert subscription.active is False
    client.post(SUBSCRIPTIONS, {"action": "resume_selected", "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert subscription.active is True
