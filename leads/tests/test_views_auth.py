"""Sign in, sign out and password reset for the agent pages."""

import re

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_signing_in_leads_to_the_dashboard(client, agent):
    response = client.post(reverse("login"), {"username": agent.username, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused(client, agent):
    response = client.post(reverse("login"), {"username": agent.username, "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert client.get("/").status_code == 302


def test_signing_out_needs_a_post_with_the_csrf_token(agent):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    assert client.post(reverse("logout")).status_code == 403  # no token: refused
    assert client.get("/").status_code == 200


def test_password_reset_mails_a_link_that_sets_a_new_password(client, agent):
    # when the agent asks for a reset
    response = client.post(reverse("password_reset"), {"email": agent.email})
    assert response.status_code == 302
    # then one mail with a one-time link is sent through the email backend
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Reset your Lead desk password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-much-better-pass-29", "new_password2": "a-much-better-pass-29"},
    )
    assert done.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password("a-much-better-pass-29")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert "Check your email" in response.content.decode()
    assert mail.outbox == []
