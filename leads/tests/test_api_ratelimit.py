"""Request budgets: the API per token (per client address without valid
credentials), the sign-in forms (the agents' and the admin's) per address and per
username, and password reset per email address and per client address."""

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from leads.models import Lead
from leads.ratelimit import spend
from leads.tests.api_assertions import LEADS_URL, assert_error, lead_url
from leads.tests.factories import LeadFactory, seed_payload

pytestmark = pytest.mark.django_db

# A day-long window: a test never straddles the window's end.
SMALL_RATE = "3/d"
WEBHOOKS_URL = "/api/v2/webhooks"


@pytest.fixture
def small_api_budget(settings):
    settings.API_RATE_LIMIT = SMALL_RATE


@pytest.fixture
def small_login_budget(settings):
    settings.LOGIN_RATE_LIMIT = SMALL_RATE


def budget_headers(response) -> tuple[int, int, int]:
    return (
        int(response["X-RateLimit-Limit"]),
        int(response["X-RateLimit-Remaining"]),
        int(response["X-RateLimit-Reset"]),
    )


# --- the API ---------------------------------------------------------------------


def test_the_request_past_the_limit_is_a_429_in_the_error_shape_with_retry_after(small_api_budget, api_client, agent):
    client = api_client(agent)
    for _ in range(3):
        assert client.get(LEADS_URL).status_code == 200

    response = client.get(LEADS_URL)

    error = assert_error(response, 429, "rate_limited")
    assert "Try again in" in error["message"]
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    assert budget_headers(response)[:2] == (3, 0)


def test_every_answer_carries_the_remaining_budget_and_it_goes_down(small_api_budget, api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)

    # a read, a 404 and a 400 all spend from the same budget
    answers = [
        client.get(lead_url(lead.public_id)),
        client.get(lead_url("lead_doesnotexist")),
        client.post(LEADS_URL, {"lead_type": "nope"}, format="json"),
    ]

    assert [answer.status_code for answer in answers] == [200, 404, 400]
    assert [budget_headers(answer)[:2] for answer in answers] == [(3, 2), (3, 1), (3, 0)]
    assert all(0 < budget_headers(answer)[2] <= 24 * 3600 for answer in answers)


def test_the_default_budget_is_generous(api_client, agent):
    response = api_client(agent).get(LEADS_URL)

    assert budget_headers(response)[:2] == (600, 599)


def test_two_tokens_have_separate_budgets(small_api_budget, api_client, agent, other_agent):
    first, second = api_client(agent), api_client(other_agent)
    for _ in range(3):
        first.get(LEADS_URL)

    assert first.get(LEADS_URL).status_code == 429
    response = second.get(LEADS_URL)
    assert response.status_code == 200
    assert budget_headers(response)[:2] == (3, 2)


def test_calls_without_valid_credentials_are_counted_per_client_address(small_api_budget, api_client, agent):
    anonymous = api_client()
    guesser = api_client()
    guesser.credentials(HTTP_AUTHORIZATION="Bearer notarealtoken")

    # given an address that sent three calls without valid credentials
    assert anonymous.get(LEADS_URL, REMOTE_ADDR="203.0.113.7").status_code == 401
    assert guesser.get(LEADS_URL, REMOTE_ADDR="203.0.113.7").status_code == 401
    assert guesser.get(LEADS_URL, REMOTE_ADDR="203.0.113.7").status_code == 401

    # then its next guess is refused before the token is even looked at
    assert_error(guesser.get(LEADS_URL, REMOTE_ADDR="203.0.113.7"), 429, "rate_limited")
    # while another address, and a valid token from the same address, are unaffected
    assert guesser.get(LEADS_URL, REMOTE_ADDR="203.0.113.8").status_code == 401
    assert api_client(agent).get(LEADS_URL, REMOTE_ADDR="203.0.113.7").status_code == 200


def test_a_refused_write_changes_nothing(small_api_budget, api_client, agent):
    client = api_client(agent)
    for _ in range(3):
        client.get(LEADS_URL)

    response = client.post(LEADS_URL, seed_payload(), format="json")

    assert_error(response, 429, "rate_limited")
    assert not Lead.objects.exists()


def test_the_webhooks_api_shares_the_budget(small_api_budget, api_client, manager):
    client = api_client(manager)
    client.get(LEADS_URL)

    response = client.get(WEBHOOKS_URL)

    assert response.status_code == 200
    assert budget_headers(response)[:2] == (3, 1)
    client.get(WEBHOOKS_URL)
    assert_error(client.get(WEBHOOKS_URL), 429, "rate_limited")


def test_an_unreachable_cache_lets_requests_through(settings, api_client, agent):
    # given a cache (Redis) that cannot be reached: nothing listens on port 1
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    lead = LeadFactory(assigned_to=agent)

    # then the API still answers (without budget headers) and reads still work
    response = api_client(agent).get(lead_url(lead.public_id))

    assert response.status_code == 200
    assert response.json()["lead"]["id"] == lead.public_id
    assert "X-RateLimit-Limit" not in response


# --- the sign-in form ------------------------------------------------------------------


def sign_in(client, username: str, password: str, address: str = "198.51.100.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_sign_in_form_blocks_an_address_after_the_limit(small_login_budget, client, agent, other_agent):
    # given three failed attempts from one address, on different usernames
    for username in ("agent_smith", "agent_jones", "nobody"):
        assert sign_in(client, username, "wrong").status_code == 200

    # when the right password comes next from that address
    response = sign_in(client, agent.username, "correct-horse-battery")

    # then it is refused with a message, and nobody is signed in
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # another address still signs in
    assert sign_in(client, other_agent.username, "correct-horse-battery", "198.51.100.2").status_code == 302


def test_the_sign_in_form_blocks_a_username_guessed_from_many_addresses(small_login_budget, client, agent):
    for number in range(3):
        sign_in(client, agent.username, "wrong", f"198.51.100.{10 + number}")

    response = sign_in(client, agent.username.upper(), "correct-horse-battery", "198.51.100.20")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_signing_in_within_the_budget_works(small_login_budget, client, agent):
    sign_in(client, agent.username, "wrong")

    response = sign_in(client, agent.username, "correct-horse-battery")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(agent.pk)


def test_showing_the_sign_in_page_is_not_counted(small_login_budget, client):
    for _ in range(5):
        assert client.get(reverse("login")).status_code == 200


# --- the admin's sign-in ------------------------------------------------------------------

ADMIN_LOGIN_URL = "/admin/login/"


def admin_sign_in(client, username: str, password: str, address: str = "198.51.100.1"):
    return client.post(
        ADMIN_LOGIN_URL, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def test_the_admin_sign_in_refuses_a_run_of_wrong_passwords_at_the_default_limit(client, manager):
    # 25 wrong passwords for a manager in a row: the report had all 25 answered 200
    statuses = [admin_sign_in(client, manager.username, f"guess-{number}").status_code for number in range(25)]

    # a window of LOGIN_RATE_LIMIT ("10/m") lets at most 10 through; 25 span at most two windows
    assert statuses.count(200) <= 20
    assert statuses[10:].count(429) >= 5
    assert set(statuses) == {200, 429}


def test_the_admin_sign_in_blocks_an_address_after_the_limit(small_login_budget, client, manager, admin_user):
    for username in (manager.username, admin_user.username, "nobody"):
        assert admin_sign_in(client, username, "wrong").status_code == 200

    # the right password from that address is refused without being checked
    response = admin_sign_in(client, manager.username, "correct-horse-battery")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # another address still signs in
    response = admin_sign_in(client, admin_user.username, "correct-horse-battery", "198.51.100.2")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_the_admin_sign_in_blocks_a_username_guessed_from_many_addresses(small_login_budget, client, manager):
    for number in range(3):
        admin_sign_in(client, manager.username, "wrong", f"198.51.100.{10 + number}")

    response = admin_sign_in(client, manager.username.upper(), "correct-horse-battery", "198.51.100.20")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_admin_and_the_agents_sign_in_share_one_budget(small_login_budget, client, manager):
    sign_in(client, manager.username, "wrong")
    admin_sign_in(client, manager.username, "wrong")
    sign_in(client, manager.username, "wrong")

    assert admin_sign_in(client, manager.username, "correct-horse-battery").status_code == 429
    assert sign_in(client, manager.username, "correct-horse-battery").status_code == 429


def test_the_admin_sign_in_within_the_budget_works(small_login_budget, client, manager):
    assert client.get(ADMIN_LOGIN_URL).status_code == 200
    admin_sign_in(client, manager.username, "wrong")

    response = admin_sign_in(client, manager.username, "correct-horse-battery")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(manager.pk)
    assert client.get("/admin/").status_code == 200


# --- password reset ------------------------------------------------------------------------


def ask_for_reset(client, email: str, address: str = "198.51.100.1"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_password_reset_emails_stop_past_the_limit_per_address(settings, client, agent):
    settings.PASSWORD_RESET_RATE_LIMIT = SMALL_RATE
    answers = [
        ask_for_reset(client, email, f"198.51.100.{number}")
        for number, email in enumerate([agent.email] * 3 + [agent.email.upper(), agent.email])
    ]

    assert [answer.status_code for answer in answers] == [302, 302, 302, 429, 429]
    assert len(mail.outbox) == 3
    assert 0 < int(answers[-1]["Retry-After"]) <= 24 * 3600
    assert "Too many reset requests" in answers[-1].content.decode()


def test_password_reset_emails_stop_past_the_limit_per_client_address(settings, client, agent, other_agent, manager):
    settings.PASSWORD_RESET_IP_RATE_LIMIT = SMALL_RATE
    for user in (agent, other_agent, manager):
        assert ask_for_reset(client, user.email).status_code == 302

    refused = ask_for_reset(client, "nobody@example.com")
    also_refused = ask_for_reset(client, agent.email)

    assert refused.status_code == also_refused.status_code == 429
    # a known and an unknown address are refused alike
    assert refused.content == also_refused.content
    assert len(mail.outbox) == 3
    # another client is still served
    assert ask_for_reset(client, agent.email, "198.51.100.2").status_code == 302
    assert len(mail.outbox) == 4


def test_twelve_reset_requests_no_longer_send_twelve_emails(client, agent):
    statuses = [ask_for_reset(client, agent.email).status_code for _ in range(12)]

    assert statuses == [302] * 3 + [429] * 9  # PASSWORD_RESET_RATE_LIMIT: 3 an hour per address
    assert len(mail.outbox) == 3


@pytest.mark.parametrize("rate", ["600 per minute", "600/minute", "/m", ""])
def test_a_malformed_rate_setting_is_named(rate, rf):
    with pytest.raises(ImproperlyConfigured, match="is not a rate"):
        spend(rf.get("/"), group="api", key="ip", rate=rate)
