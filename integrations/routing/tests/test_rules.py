"""Rules as managers edit them: field errors that refuse a save, warnings the rules
page shows, the catch-all's protections, order, and who may edit what."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from integrations.routing import selectors, services
from integrations.routing.models import Fallback, RoutingMethod, RoutingRule
from integrations.routing.tests.factories import RoutingRuleFactory, RuleMemberFactory, TeamFactory
from leads.errors import PermissionDenied, ValidationFailed
from leads.models import Role
from leads.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"min_price": Decimal(500), "max_price": Decimal(100)}, "max_price"),
        ({"sources": ["fax"]}, "sources"),
        ({"lead_types": ["alien"]}, "lead_types"),
        ({"urgencies": ["yesterday"]}, "urgencies"),
        ({"zip_codes": ["9411"]}, "zip_codes"),
        ({"languages": ["Spanish!"]}, "languages"),
        ({"tags": ["", "vip"]}, "tags"),
        ({"cities": "Austin"}, "cities"),
        ({"method": RoutingMethod.FIXED_AGENT}, "fixed_agent"),
        ({"fallback": Fallback.AGENT}, "fallback_agent"),
        ({"claim_timeout_minutes": 0}, "claim_timeout_minutes"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_with_a_field_error(manager, catch_all, values, field):
    rule = RoutingRule(name="Bad", **values)

    with pytest.raises(ValidationFailed) as refused:
        services.rule_save(actor=manager, rule=rule)
    with pytest.raises(ValidationError) as by_clean:
        rule.clean()

    assert field in refused.value.fields
    assert field in by_clean.value.message_dict
    assert not RoutingRule.objects.filter(name="Bad").exists()


def test_a_group_with_bad_members_is_refused(manager, catch_all):
    retired = UserFactory(is_active=False)

    with pytest.raises(ValidationFailed) as refused:
        services.rule_save(actor=manager, rule=RoutingRule(name="R"), members=[(retired, 1), (UserFactory(), 101)])

    assert len(refused.value.fields["members"]) == 2
    assert not RoutingRule.objects.filter(name="R").exists()


def test_a_rule_is_saved_with_its_group_and_goes_before_the_catch_all(manager, catch_all):
    ann, bob = UserFactory(), UserFactory()

    rule = services.rule_save(
        actor=manager, rule=RoutingRule(name="Zillow", sources=["zillow"]), members=[(ann, 3), (bob, 1)]
    )
    services.rule_save(actor=manager, rule=rule, members=[(bob, 2)])

    assert [(m.agent, m.weight) for m in rule.members.all()] == [(bob, 2)]
    assert [view.rule for view in selectors.rules_in_order(None)] == [rule, catch_all]


def test_warnings_for_rules_that_will_surprise(manager, catch_all):
    wide = RoutingRuleFactory(name="Big budgets", min_price=Decimal(500_000), position=10)
    RuleMemberFactory(rule=wide)
    overlapping = RoutingRuleFactory(name="Mid", min_price=Decimal(300_000), max_price=Decimal(700_000), position=20)
    RuleMemberFactory(rule=overlapping, agent=UserFactory(is_active=False))
    shadowed = RoutingRuleFactory(name="Luxury", min_price=Decimal(900_000), position=30)
    RuleMemberFactory(rule=shadowed)

    warnings = {view.rule.name: view.warnings for view in selectors.rules_in_order(None)}

    assert any('overlaps "Big budgets"' in warning for warning in warnings["Mid"])
    assert any("No active agent" in warning for warning in warnings["Mid"])
    assert any("never matches" in warning for warning in warnings["Luxury"])
    assert any("group is empty" in warning for warning in warnings[catch_all.name])


def test_the_catch_all_cannot_be_deleted_deactivated_or_sent_to_the_next_rule(manager, catch_all):
    with pytest.raises(ValidationFailed):
        services.rule_delete(actor=manager, rule=catch_all)
    catch_all.is_active = False
    with pytest.raises(ValidationFailed) as deactivated:
        services.rule_save(actor=manager, rule=catch_all)
    catch_all.is_active, catch_all.fallback = True, Fallback.NEXT_RULE
    with pytest.raises(ValidationFailed) as next_rule:
        services.rule_save(actor=manager, rule=catch_all)

    assert "is_active" in deactivated.value.fields and "fallback" in next_rule.value.fields
    assert RoutingRule.objects.filter(pk=catch_all.pk, is_active=True).exists()


def test_rules_are_reordered_with_the_catch_all_kept_last(manager, catch_all):
    a, b, c = (RoutingRuleFactory(name=name) for name in "abc")

    services.rules_reorder(actor=manager, team=None, rule_ids=[c.pk, a.pk, b.pk])

    assert [view.rule for view in selectors.rules_in_order(None)] == [c, a, b, catch_all]
    with pytest.raises(ValidationFailed):
        services.rules_reorder(actor=manager, team=None, rule_ids=[c.pk, a.pk])


def test_only_managers_edit_rules_and_only_their_teams(agent, catch_all):
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    north_manager = UserFactory(role=Role.MANAGER, team=north)

    with pytest.raises(PermissionDenied):
        services.rule_save(actor=agent, rule=RoutingRule(name="Mine"))
    with pytest.raises(PermissionDenied):
        services.rule_save(actor=north_manager, rule=RoutingRule(name="Theirs", team=south))
    services.rule_save(actor=north_manager, rule=RoutingRule(name="Ours", team=north))

    assert RoutingRule.objects.filter(team=north, is_catch_all=True).exists()  # made with the team's first rule


def test_agents_pause_themselves_and_managers_set_caps(agent, manager):
    services.profile_update(actor=agent, user=agent, paused=True)
    with pytest.raises(PermissionDenied):
        services.profile_update(actor=agent, user=agent, capacity=99)
    with pytest.raises(ValidationFailed):
        services.profile_update(actor=manager, user=agent, capacity=-1)

    profile = services.profile_update(actor=manager, user=agent, capacity=5, pond_daily_limit=3)

    assert (profile.paused, profile.capacity, profile.pond_daily_limit) == (True, 5, 3)
