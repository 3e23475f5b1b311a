"""An SLA breach per the rule: back to the pond, or to another agent of the group; the
manager-only default leaves the lead with its agent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import periodic
from integrations.alerts.models import AgentAlert
from integrations.routing import sla
from integrations.routing.models import PondEntry, PondStatus, RoutingDecision, RoutingTrigger, SlaBreachAction
from integrations.routing.tests.conftest import new_lead, route
from integrations.routing.tests.factories import RoutingRuleFactory, RuleMemberFactory
from leads.models import Lead, SlaStatus

pytestmark = pytest.mark.django_db


def breached(rule, action):
    rule.sla_breach_action = action
    rule.save()
    _, lead = route(new_lead())
    Lead.objects.filter(pk=lead.pk).update(
        sla_status=SlaStatus.BREACHED, sla_due_at=timezone.now() - timedelta(hours=1)
    )
    return Lead.objects.get(pk=lead.pk)


@pytest.fixture
def rule(catch_all):
    rule = RoutingRuleFactory()
    for _ in range(2):
        RuleMemberFactory(rule=rule)
    return rule


def test_a_breach_sends_the_lead_back_to_the_pond(rule):
    lead = breached(rule, SlaBreachAction.POND)

    assert sla.handle_sla_breaches() == {"pond": 1, "reassign": 0}

    lead.refresh_from_db()
    assert lead.assigned_to is None
    assert PondEntry.objects.get(lead=lead).status == PondStatus.OPEN
    assert RoutingDecision.objects.filter(lead=lead, trigger=RoutingTrigger.SLA_BREACH).count() == 1


def test_a_breach_reassigns_to_another_agent_of_the_group(rule):
    lead = breached(rule, SlaBreachAction.REASSIGN)
    first = lead.assigned_to

    assert sla.handle_sla_breaches() == {"pond": 0, "reassign": 1}

    lead.refresh_from_db()
    assert lead.assigned_to not in (None, first)
    assert lead.assigned_to in {member.agent for member in rule.members.all()}
    assert AgentAlert.objects.filter(user=lead.assigned_to, lead=lead, reason="assigned").count() == 1


def test_a_breach_is_acted_on_once(rule):
    breached(rule, SlaBreachAction.REASSIGN)

    sla.handle_sla_breaches()

    assert sla.handle_sla_breaches() == {"pond": 0, "reassign": 0}


def test_the_default_leaves_the_lead_with_its_agent_for_the_managers_alert(rule):
    lead = breached(rule, SlaBreachAction.ALERT_MANAGER)

    assert sla.handle_sla_breaches() == {"pond": 0, "reassign": 0}
    assert Lead.objects.get(pk=lead.pk).assigned_to == lead.assigned_to


def test_a_contacted_lead_is_left_alone(rule):
    lead = breached(rule, SlaBreachAction.POND)
    Lead.objects.filter(pk=lead.pk).update(first_contacted_at=timezone.now())

    assert sla.handle_sla_breaches() == {"pond": 0, "reassign": 0}


def test_the_routing_jobs_are_registered_periodic_jobs(db):
    assert periodic.JOBS["route_sla_breaches"].service == "integrations.routing.sla.handle_sla_breaches"
    assert periodic.JOBS["sweep_routing"].service == "integrations.routing.tasks.sweep_routing"
    assert periodic.run("sweep_routing") == {"resent": 0, "withdrawn": 0, "expired": 0}
