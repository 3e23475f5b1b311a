"""The Notifications page (channels, devices, latest alerts) and the endpoints its
script calls to subscribe and unsubscribe a browser: session and CSRF, JSON errors in
one shape, endpoints refused unless https on a public address, never a 500."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from integrations.alerts.models import AlertPreference, PushSubscription
from integrations.alerts.tests.conftest import Browser, subscribe

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/notifications/push-subscriptions/"
UNSUBSCRIBE = "/notifications/push-subscriptions/unsubscribe/"
PUBLIC_ENDPOINT = "https://93.184.216.34/push/v1/abc"  # a literal public address: no DNS needed


@pytest.fixture
def signed_in(client, agent, vapid_keys):
    client.force_login(agent)
    return client


def post_json(client, url, body, **extra):
    return client.post(
        url, json.dumps(body) if not isinstance(body, str) else body, content_type="application/json", **extra
    )


def test_the_page_shows_the_vapid_key_and_the_enable_button(signed_in, vapid_keys):
    response = signed_in.get(reverse("alerts:notifications"))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-vapid-key="{vapid_keys.public_key}"' in page
    assert "Enable notifications on this device" in page
    assert 'src="/static/js/notifications.js"' in page
    assert "<script>" not in page  # no inline script under the CSP


def test_saving_the_channels_with_a_number_opts_in_to_texts(signed_in, agent):
    response = signed_in.post(
        reverse("alerts:notifications"), {"order": "sms,push", "sms_number": "(415) 555-0134", "sms_opt_in": "on"}
    )
    assert response.status_code == 303
    preference = AlertPreference.objects.get(user=agent)
    assert (preference.channels, preference.sms_number) == (["sms", "push"], "+14155550134")
    assert preference.sms_opted_in_at is not None
    page = signed_in.get(reverse("alerts:notifications")).content.decode()
    assert 'value="+14155550134"' in page
    assert re.search(r'<input type="radio" name="order" value="sms,push"[^>]* checked>', page)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"order": "sms", "sms_number": "+14155550134"}, "agree to receive texts"),
        ({"order": "sms", "sms_opt_in": "on"}, "enter your number"),
        ({"order": "push", "sms_number": "12", "sms_opt_in": "on"}, "7 to 15 digits"),
        ({"order": "fax"}, "Select a valid choice"),
    ],
)
def test_bad_channels_are_a_422_with_the_reason_and_change_nothing(signed_in, agent, form, message):
    response = signed_in.post(reverse("alerts:notifications"), form)
    assert response.status_code == 422
    assert message.lower() in response.content.decode().lower()
    assert not AlertPreference.objects.filter(user=agent).exists()


def test_changing_the_number_asks_for_the_opt_in_again(signed_in, agent):
    signed_in.post(reverse("alerts:notifications"), {"order": "sms", "sms_number": "+14155550134", "sms_opt_in": "on"})
    first = AlertPreference.objects.get(user=agent).sms_opted_in_at
    signed_in.post(reverse("alerts:notifications"), {"order": "push", "sms_number": "+14155550134", "sms_opt_in": "on"})
    assert AlertPreference.objects.get(user=agent).sms_opted_in_at == first
    signed_in.post(reverse("alerts:notifications"), {"order": "push", "sms_number": "+14155550135"})
    assert AlertPreference.objects.get(user=agent).sms_opted_in_at is None


def test_a_browser_subscribes_and_unsubscribes(signed_in, agent):
    browser = Browser(PUBLIC_ENDPOINT)
    response = post_json(signed_in, SUBSCRIBE, browser.subscription_json(), HTTP_USER_AGENT="Phone/1.0")
    assert response.status_code == 201
    subscription = PushSubscription.objects.get()
    assert response.json() == {"id": subscription.pk, "endpoint": PUBLIC_ENDPOINT}
    assert (subscription.user, subscription.p256dh, subscription.user_agent) == (agent, browser.p256dh, "Phone/1.0")
    # subscribing again (the page does on each visit) keeps one row
    assert post_json(signed_in, SUBSCRIBE, browser.subscription_json()).status_code == 201
    assert PushSubscription.objects.count() == 1
    assert post_json(signed_in, UNSUBSCRIBE, {"endpoint": PUBLIC_ENDPOINT}).status_code == 204
    assert PushSubscription.objects.count() == 0
    assert post_json(signed_in, UNSUBSCRIBE, {"endpoint": PUBLIC_ENDPOINT}).status_code == 404


def test_a_browser_signed_in_as_someone_else_moves_to_them(client, agent, other_agent, vapid_keys):
    browser = Browser(PUBLIC_ENDPOINT)
    subscribe(agent, browser)
    client.force_login(other_agent)
    assert post_json(client, SUBSCRIBE, browser.subscription_json()).status_code == 201
    assert list(PushSubscription.objects.values_list("user", flat=True)) == [other_agent.pk]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"endpoint": "http://93.184.216.34/push", "keys": "valid"}, "endpoint"),
        ({"endpoint": "https://127.0.0.1/push", "keys": "valid"}, "endpoint"),
        ({"endpoint": "https://169.254.169.254/latest", "keys": "valid"}, "endpoint"),
        ({"endpoint": "https://10.0.0.5/push", "keys": "valid"}, "endpoint"),
        ({"endpoint": "not a url", "keys": "valid"}, "endpoint"),
        ({"endpoint": PUBLIC_ENDPOINT, "keys": {"p256dh": "abc", "auth": "abc"}}, "keys.p256dh"),
        ({"endpoint": PUBLIC_ENDPOINT}, "keys.auth"),
        ({"endpoint": PUBLIC_ENDPOINT, "keys": {"p256dh": 5, "auth": ["x"]}}, "keys.p256dh"),
    ],
)
def test_an_unusable_subscription_is_a_400_naming_the_field(signed_in, body, field):
    if body.get("keys") == "valid":
        body = {**body, "keys": Browser(PUBLIC_ENDPOINT).subscription_json()["keys"]}
    response = post_json(signed_in, SUBSCRIBE, body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert PushSubscription.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [("{not json", "application/json", 400), ("[1, 2]", "application/json", 400), ("endpoint=x", "text/plain", 415)],
)
def test_a_body_that_is_not_a_json_object_is_refused(signed_in, body, content_type, status):
    response = signed_in.post(SUBSCRIBE, body, content_type=content_type)
    assert response.status_code == status
    assert response.json()["error"]["code"] in ("validation_error", "unsupported_media_type")


def test_signed_out_is_a_401_and_a_missing_csrf_token_a_403(agent, vapid_keys):
    browser = Browser(PUBLIC_ENDPOINT)
    assert post_json(Client(), SUBSCRIBE, browser.subscription_json()).status_code == 401
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)
    assert post_json(strict, SUBSCRIBE, browser.subscription_json()).status_code == 403
    strict.get(reverse("alerts:notifications"))
    token = strict.cookies["csrftoken"].value
    assert post_json(strict, SUBSCRIBE, browser.subscription_json(), HTTP_X_CSRFTOKEN=token).status_code == 201


def test_the_page_lists_devices_and_removes_one(signed_in, agent, other_agent):
    mine = subscribe(agent, Browser(PUBLIC_ENDPOINT))
    theirs = subscribe(other_agent, Browser("https://93.184.216.34/push/v1/theirs"))
    assert "Test browser" in signed_in.get(reverse("alerts:notifications")).content.decode()
    assert signed_in.post(reverse("alerts:push_subscription_remove", args=[theirs.pk])).status_code == 404
    assert signed_in.post(reverse("alerts:push_subscription_remove", args=[mine.pk])).status_code == 303
    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_without_vapid_keys_the_page_says_push_is_off(client, agent, settings):
    settings.WEBPUSH_VAPID_PRIVATE_KEY = settings.WEBPUSH_VAPID_KEY_FILE = ""
    client.force_login(agent)
    page = client.get(reverse("alerts:notifications")).content.decode()
    assert "Push notifications are not set up" in page and "push-panel" not in page


def test_the_page_needs_a_sign_in(client):
    response = client.get(reverse("alerts:notifications"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
