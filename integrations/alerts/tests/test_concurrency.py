"""Alerts under concurrent work, on PostgreSQL (these tests commit for real; the SQLite
test database answers a second writer with "table is locked" instead of waiting)."""

import pytest
from django.db import connection, transaction

from integrations.alerts import services
from integrations.alerts.models import AgentAlert, AlertDelivery, DeliveryStatus
from integrations.alerts.tests.conftest import subscribe
from integrations.crm.tests.conftest import Reply
from leads.tests.concurrency import run_at_once
from leads.tests.factories import LeadFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers are tested in the PostgreSQL pass (DATABASE_URL=postgres://...)")


def test_the_same_alert_asked_for_at_once_is_made_once(alert_settings, agent):
    lead = LeadFactory()

    def ask(_):
        with transaction.atomic():
            return services.alert_agent(user=agent, lead=lead, reason="offer", key="offer:race")

    results, errors = run_at_once(4, ask)
    assert errors == []
    assert sorted(len(armed) for armed in results) == [0, 0, 0, 1]
    assert AgentAlert.objects.filter(key="offer:race").count() == 1


def test_two_workers_sending_one_push_at_once_send_it_once(push_service, agent):
    subscribe(agent, push_service.browser())
    push_service.answer(Reply(201, {}, delay=0.3))
    with transaction.atomic():
        (delivery_id,) = services.alert_agent(user=agent, lead=LeadFactory(), reason="offer")

    results, errors = run_at_once(2, lambda _: services.deliver(delivery_id)[0])
    assert errors == []
    assert sorted(outcome.value for outcome in results) == ["busy", "sent"]
    assert len(push_service.pushes) == 1
    assert AlertDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.DELIVERED
