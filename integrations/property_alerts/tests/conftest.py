"""Property alerts tests: a loopback SMTP server (aiosmtpd, the workflows' fixture) and
helpers to read what the server received. The Chromium tests live with the others in
leads/tests/browser (one browser for the session)."""

import re
from email import message_from_bytes, policy

import pytest

from integrations.property_alerts.tests.factories import ListingFactory, MatchFactory, SubscriptionFactory
from integrations.workflows.tests.test_smtp_delivery import smtp_inbox  # noqa: F401  (a fixture)
from leads.tests.factories import LeadFactory, UserFactory


def received(inbox) -> list:
    return [message_from_bytes(envelope.original_content, policy=policy.default) for envelope in inbox.envelopes]


def parts(message) -> tuple[str, str]:
    """(text, html) of a received alert."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def links_in(text: str, kind: str) -> list[str]:
    """The testserver links of one kind ("c" click, "o" open, "f" frequency) in ``text``, path only."""
    return [match for match in re.findall(rf"http://testserver(/alerts/{kind}/[^/\s\"]+/)", text)]


@pytest.fixture
def agent_user(db):
    return UserFactory(username="pa_agent", first_name="Alice", last_name="Nguyen")


@pytest.fixture
def buyer(agent_user):
    return LeadFactory(assigned_to=agent_user, contact__first_name="Katherine", contact__email="kat@example.com")


@pytest.fixture
def instant_buyer(buyer):
    SubscriptionFactory(lead=buyer, frequency="instant")
    return buyer


@pytest.fixture
def listing(db):
    return ListingFactory(address="12 Elm Street", price=525000, beds=3, baths=2, square_feet=1450)


@pytest.fixture
def match(instant_buyer, listing):
    return MatchFactory(lead=instant_buyer, listing=listing, score=90)
