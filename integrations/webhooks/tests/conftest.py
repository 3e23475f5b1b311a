"""A real HTTP receiver on loopback, and the settings that let webhooks reach it."""

import pytest

from integrations.crm.tests.conftest import LoopbackServer
from integrations.webhooks.models import WebhookEvent, WebhookSubscription
from integrations.webhooks.tests.factories import WebhookSubscriptionFactory


@pytest.fixture
def receiver():
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def loopback_allowed(settings):
    """Targets on 127.0.0.1 are allowed; short timeouts and few attempts."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOKS_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOKS_READ_TIMEOUT = 1.0
    settings.WEBHOOKS_MAX_ATTEMPTS = 4
    settings.WEBHOOKS_BACKOFF_SECONDS = 30
    settings.WEBHOOKS_BACKOFF_MAX_SECONDS = 3600


@pytest.fixture
def private_targets_refused(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False


@pytest.fixture
def subscribe(receiver, loopback_allowed):
    """``subscribe(*events, **fields)``: a subscription pointed at the loopback receiver."""

    def make(*events: str, **fields) -> WebhookSubscription:
        fields.setdefault("url", f"{receiver.base_url}/hooks/leads")
        return WebhookSubscriptionFactory(events=list(events or WebhookEvent.values), **fields)

    return make
