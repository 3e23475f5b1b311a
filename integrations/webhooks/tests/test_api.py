"""The webhooks API: who may use it, the secret shown once, the URL rule, bad input,
the delivery log and replay. Same envelope and error shape as the leads API."""

import uuid

import pytest

from integrations.crm.tests.conftest import Reply, signature_problems
from integrations.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent, WebhookSubscription
from integrations.webhooks.tests.factories import PUBLIC_URL, WebhookDeliveryFactory, WebhookSubscriptionFactory
from integrations.webhooks.tests.saves import tag
from leads.models import Role
from leads.tests.api_assertions import assert_envelope, assert_error
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

WEBHOOKS_URL = "/api/v2/webhooks"
CREATE_BODY = {"name": "Portal sync", "url": PUBLIC_URL, "events": ["lead.created", "lead.scored"]}


def webhook_url(subscription: WebhookSubscription, suffix: str = "") -> str:
    return f"{WEBHOOKS_URL}/{subscription.public_id}{suffix}"


def snapshot() -> list[dict]:
    return list(WebhookSubscription.objects.order_by("pk").values()) + list(
        WebhookDelivery.objects.order_by("pk").values()
    )


# --- who may use it -----------------------------------------------------------


def every_endpoint(subscription, delivery) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", WEBHOOKS_URL, None),
        ("post", WEBHOOKS_URL, CREATE_BODY),
        ("get", webhook_url(subscription), None),
        ("patch", webhook_url(subscription), {"name": "x"}),
        ("delete", webhook_url(subscription), None),
        ("get", webhook_url(subscription, "/deliveries"), None),
        ("post", webhook_url(subscription, f"/deliveries/{delivery.event_id}/replay"), None),
    ]


def test_agents_get_403_everywhere_and_change_nothing(api_client, agent):
    delivery = WebhookDeliveryFactory()
    before = snapshot()
    for method, url, body in every_endpoint(delivery.subscription, delivery):
        response = getattr(api_client(agent), method)(url, body, format="json")
        assert_error(response, 403, "permission_denied")
    assert snapshot() == before


def test_unauthenticated_callers_get_401_everywhere(api_client):
    delivery = WebhookDeliveryFactory()
    for method, url, body in every_endpoint(delivery.subscription, delivery):
        response = getattr(api_client(), method)(url, body, format="json")
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Bearer"


def test_a_manager_sees_only_their_own_webhooks_and_an_admin_sees_all(api_client, manager, admin_user):
    own = WebhookSubscriptionFactory(owner=manager)
    others = WebhookSubscriptionFactory(owner=UserFactory(username="manager_max", role=Role.MANAGER))
    listed = api_client(manager).get(WEBHOOKS_URL).json()
    assert [item["id"] for item in listed["webhooks"]] == [str(own.public_id)]
    assert listed["total_count"] == 1
    assert_error(api_client(manager).get(webhook_url(others)), 404, "not_found")
    assert_error(api_client(manager).delete(webhook_url(others)), 404, "not_found")
    assert WebhookSubscription.objects.filter(pk=others.pk).exists()
    ids = {item["id"] for item in api_client(admin_user).get(WEBHOOKS_URL).json()["webhooks"]}
    assert ids == {str(own.public_id), str(others.public_id)}


@pytest.mark.parametrize("bad_id", ["nope", "1", str(uuid.uuid4()), "%00", "a" * 300])
def test_unknown_or_malformed_ids_are_404(api_client, manager, bad_id):
    assert_error(api_client(manager).get(f"{WEBHOOKS_URL}/{bad_id}"), 404, "not_found")


# --- creating: the secret is shown once ---------------------------------------------


def test_create_returns_the_generated_secret_once(api_client, manager):
    # when a manager creates a webhook without a secret
    response = api_client(manager).post(WEBHOOKS_URL, CREATE_BODY, format="json")
    # then the one response that shows it carries a generated secret
    assert response.status_code == 201, response.content
    body = response.json()
    assert_envelope(body)
    webhook = body["webhook"]
    assert webhook["secret"].startswith("whsec_") and len(webhook["secret"]) >= 40
    assert webhook["events"] == ["lead.created", "lead.scored"]
    assert (webhook["name"], webhook["url"], webhook["active"], webhook["owner"]) == (
        "Portal sync",
        PUBLIC_URL,
        True,
        manager.username,
    )
    assert webhook["created_at"].endswith("Z")
    subscription = WebhookSubscription.objects.get(public_id=webhook["id"])
    assert subscription.secret == webhook["secret"]
    # and no later response shows it again
    client = api_client(manager)
    assert "secret" not in client.get(webhook_url(subscription)).json()["webhook"]
    assert "secret" not in client.get(WEBHOOKS_URL).json()["webhooks"][0]
    assert "secret" not in client.patch(webhook_url(subscription), {"name": "Renamed"}, format="json").json()["webhook"]
    assert webhook["secret"] not in client.get(webhook_url(subscription, "/deliveries")).content.decode()


def test_two_webhooks_get_different_secrets(api_client, manager):
    secrets = {
        api_client(manager).post(WEBHOOKS_URL, CREATE_BODY, format="json").json()["webhook"]["secret"] for _ in range(2)
    }
    assert len(secrets) == 2


def test_a_given_secret_is_used_and_events_are_deduplicated(api_client, admin_user):
    body = {**CREATE_BODY, "secret": "my-own-secret-of-enough-length", "events": ["lead.scored", "lead.created"] * 2}
    webhook = api_client(admin_user).post(WEBHOOKS_URL, body, format="json").json()["webhook"]
    assert webhook["secret"] == "my-own-secret-of-enough-length"
    assert webhook["events"] == ["lead.created", "lead.scored"]


# --- the URL rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("http://192.168.1.20/hook", "private"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://[fd00::1]/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://localhost/hook", "loopback"),
        ("ftp://x", "Use an http:// or https:// URL."),
        ("file:///etc/passwd", "Use an http:// or https:// URL."),
        ("javascript:alert(1)", "Use an http:// or https:// URL."),
        ("https://", "The URL has no host."),
        ("https://user:pw@93.184.216.34/hook", "Leave credentials out of the URL"),
        ("http://93.184.216.34:99999/hook", "Enter a valid URL."),
        ("https://no-such-host.invalid/hook", "could not be resolved"),
        ("https://93.184.216.34/a b", "no spaces or control characters"),
        ("https://93.184.216.34/\u0007", "no spaces or control characters"),
    ],
)
def test_refused_urls_are_a_400_on_the_url_field_and_create_nothing(
    api_client, manager, private_targets_refused, url, reason
):
    response = api_client(manager).post(WEBHOOKS_URL, {**CREATE_BODY, "url": url}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["url"]
    assert reason in error["fields"]["url"][0]
    assert not WebhookSubscription.objects.exists()


def test_a_refused_url_in_an_update_changes_nothing(api_client, manager, private_targets_refused):
    subscription = WebhookSubscriptionFactory(owner=manager)
    before = snapshot()
    response = api_client(manager).patch(
        webhook_url(subscription), {"url": "http://10.0.0.1/hook", "name": "New name"}, format="json"
    )
    assert "private" in assert_error(response, 400, "validation_error")["fields"]["url"][0]
    assert snapshot() == before


def test_loopback_urls_are_accepted_when_the_setting_allows_private_targets(api_client, manager, loopback_allowed):
    response = api_client(manager).post(WEBHOOKS_URL, {**CREATE_BODY, "url": "http://127.0.0.1:9/hook"}, format="json")
    assert response.status_code == 201, response.content


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CREATE_BODY, "events": []}, "events"),
        ({**CREATE_BODY, "events": ["lead.deleted"]}, "events[0]"),
        ({**CREATE_BODY, "events": "lead.created"}, "events"),
        ({**CREATE_BODY, "events": [{"x": 1}]}, "events[0]"),
        ({"url": PUBLIC_URL, "events": ["lead.created"]}, "name"),
        ({**CREATE_BODY, "name": "   "}, "name"),
        ({**CREATE_BODY, "url": 42}, "url"),
        ({**CREATE_BODY, "url": "https://example.com/" + "a" * 2000}, "url"),
        ({**CREATE_BODY, "secret": "short"}, "secret"),
        ({**CREATE_BODY, "active": "maybe"}, "active"),
        ({"name": "x"}, "url"),
    ],
)
def test_invalid_bodies_are_a_400_naming_the_field_and_create_nothing(api_client, manager, body, field):
    response = api_client(manager).post(WEBHOOKS_URL, body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert field in error["fields"], error
    assert not WebhookSubscription.objects.exists()


def test_malformed_json_is_a_400(api_client, manager):
    response = api_client(manager).post(WEBHOOKS_URL, "{not json", content_type="application/json")
    assert_error(response, 400, "malformed_json")


# --- updating and deleting -----------------------------------------------------------


def test_patch_changes_only_what_it_names(api_client, manager):
    subscription = WebhookSubscriptionFactory(owner=manager, events=["lead.created"])
    response = api_client(manager).patch(
        webhook_url(subscription), {"events": ["lead.updated"], "active": False}, format="json"
    )
    assert response.status_code == 200, response.content
    webhook = response.json()["webhook"]
    assert (webhook["events"], webhook["active"], webhook["name"], webhook["url"]) == (
        ["lead.updated"],
        False,
        subscription.name,
        subscription.url,
    )


def test_a_new_secret_signs_the_next_delivery(
    api_client, manager, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a webhook whose secret was just rotated through the API
    subscription = subscribe(WebhookEvent.UPDATED, owner=manager)
    old_secret = subscription.secret
    response = api_client(manager).patch(
        webhook_url(subscription), {"secret": "rotated-secret-0123456789"}, format="json"
    )
    assert "secret" not in response.json()["webhook"]
    # when a lead is saved
    with django_capture_on_commit_callbacks(execute=True):
        tag(LeadFactory(), manager)
    # then the delivery is signed with the new secret, not the old one
    (request,) = receiver.received
    assert signature_problems(request, secret="rotated-secret-0123456789") == []
    assert signature_problems(request, secret=old_secret) == ["signature does not match"]


def test_delete_removes_the_webhook_and_its_log(api_client, manager):
    delivery = WebhookDeliveryFactory(subscription=WebhookSubscriptionFactory(owner=manager))
    response = api_client(manager).delete(webhook_url(delivery.subscription))
    assert response.status_code == 204
    assert not WebhookSubscription.objects.exists() and not WebhookDelivery.objects.exists()
    assert_error(api_client(manager).get(webhook_url(delivery.subscription)), 404, "not_found")


# --- the delivery log and replay ----------------------------------------------------


def test_the_delivery_log_pages_newest_first_and_filters(api_client, manager, django_assert_max_num_queries):
    subscription = WebhookSubscriptionFactory(owner=manager)
    deliveries = WebhookDeliveryFactory.create_batch(3, subscription=subscription)
    dead = WebhookDeliveryFactory(subscription=subscription, status=DeliveryStatus.DEAD, event="lead.scored")
    WebhookDeliveryFactory()  # another webhook's
    client = api_client(manager)
    with django_assert_max_num_queries(6):
        body = client.get(webhook_url(subscription, "/deliveries"), {"page_size": 2}).json()
    assert_envelope(body)
    assert (body["total_count"], body["page"], body["page_size"]) == (4, 1, 2)
    assert [item["id"] for item in body["deliveries"]] == [str(dead.event_id), str(deliveries[2].event_id)]
    item = body["deliveries"][0]
    assert set(item) >= {"id", "event", "lead_id", "status", "attempts", "response_status", "last_error", "payload"}
    filtered = client.get(webhook_url(subscription, "/deliveries"), {"status": "dead", "event": "lead.scored"}).json()
    assert [item["id"] for item in filtered["deliveries"]] == [str(dead.event_id)]


@pytest.mark.parametrize("query", [{"status": "lost"}, {"event": "lead.deleted"}, {"page": "0"}, {"page_size": "500"}])
def test_a_bad_delivery_log_query_is_a_400(api_client, manager, query):
    subscription = WebhookSubscriptionFactory(owner=manager)
    response = api_client(manager).get(webhook_url(subscription, "/deliveries"), query)
    assert_error(response, 400, "validation_error")


def test_replay_through_the_api_sends_the_delivery_again(
    api_client, manager, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a delivery that died on a 400
    subscription = subscribe(WebhookEvent.UPDATED, owner=manager)
    receiver.answer(Reply(400, "bad"))
    with django_capture_on_commit_callbacks(execute=True):
        tag(LeadFactory(), manager)
    delivery = subscription.deliveries.get()
    assert delivery.status == DeliveryStatus.DEAD
    # when it is replayed
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(manager).post(webhook_url(subscription, f"/deliveries/{delivery.event_id}/replay"))
    # then it is accepted and sent again, now delivered
    assert response.status_code == 202, response.content
    assert response.json()["delivery"]["id"] == str(delivery.event_id)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [request.headers["idempotency-key"] for request in receiver.received] == [str(delivery.event_id)] * 2
    first, second = receiver.received
    assert first.body == second.body


def test_replaying_another_webhooks_delivery_is_404(api_client, manager):
    subscription = WebhookSubscriptionFactory(owner=manager)
    foreign = WebhookDeliveryFactory(subscription=WebhookSubscriptionFactory(owner=manager))
    response = api_client(manager).post(webhook_url(subscription, f"/deliveries/{foreign.event_id}/replay"))
    assert_error(response, 404, "not_found")


def test_replaying_a_delivery_of_a_paused_webhook_is_409(api_client, manager):
    delivery = WebhookDeliveryFactory(
        subscription=WebhookSubscriptionFactory(owner=manager, active=False), status=DeliveryStatus.DEAD
    )
    response = api_client(manager).post(webhook_url(delivery.subscription, f"/deliveries/{delivery.event_id}/replay"))
    assert_error(response, 409, "conflict")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
