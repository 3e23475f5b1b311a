"""Each condition of a rule, alone: a lead that meets it matches, one that does not is
refused (and the failed condition is named); an empty condition matches any lead."""

from decimal import Decimal

import pytest

from integrations.routing.matching import failed_conditions, matches
from integrations.routing.tests.conftest import new_lead
from integrations.routing.tests.factories import RoutingRuleFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("condition", "lead_values", "other_values", "failed"),
    [
        ({"sources": ["zillow", "referral"]}, {"source": "zillow"}, {"source": "website"}, "sources"),
        ({"lead_types": ["seller"]}, {"lead_type": "seller"}, {"lead_type": "buyer"}, "lead_types"),
        (
            {"cities": ["Austin"]},
            {"preferences__preferred_locations": ["austin, TX"]},
            {"preferences__preferred_locations": ["Dallas"]},
            "cities",
        ),
        (
            {"zip_codes": ["94110"]},
            {"preferences__preferred_locations": ["Mission 94110"]},
            {"preferences__preferred_locations": ["94111"]},
            "zip_codes",
        ),
        (
            {"languages": ["es"]},
            {"contact__preferred_language": "ES"},
            {"contact__preferred_language": "en"},
            "languages",
        ),
        ({"tags": ["VIP", "relocation"]}, {"tags": ["vip"]}, {"tags": ["cold"]}, "tags"),
        (
            {"urgencies": ["urgent", "high"]},
            {"timeline__urgency_level": "urgent"},
            {"timeline__urgency_level": "low"},
            "urgencies",
        ),
        ({"has_phone": True}, {"contact__phone": "+14155550100"}, {"contact__phone": ""}, "has_phone"),
        ({"has_phone": False}, {"contact__phone": ""}, {"contact__phone": "+14155550101"}, "has_phone"),
    ],
)
def test_each_condition_matches_only_leads_that_meet_it(condition, lead_values, other_values, failed):
    rule = RoutingRuleFactory(**condition)

    assert matches(rule, new_lead(**lead_values))
    assert failed_conditions(rule, new_lead(**other_values)) == [failed]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (Decimal(300_000), Decimal(450_000), True),  # inside
        (Decimal(100_000), Decimal(250_000), True),  # overlaps the bottom
        (Decimal(600_000), None, True),  # "from 600k": overlaps the top
        (Decimal(700_000), Decimal(900_000), False),  # above
        (None, Decimal(150_000), False),  # "up to 150k": below
        (None, None, False),  # no budget: only rules without a price range
    ],
)
def test_a_price_range_matches_budgets_that_overlap_it(low, high, expected):
    rule = RoutingRuleFactory(min_price=Decimal(200_000), max_price=Decimal(600_000))

    lead = new_lead(preferences__min_price=low, preferences__max_price=high)

    assert matches(rule, lead) is expected


def test_an_empty_rule_matches_any_lead_and_all_conditions_must_hold():
    lead = new_lead(source="zillow", lead_type="buyer", tags=["vip"])

    assert matches(RoutingRuleFactory(), lead)
    assert failed_conditions(RoutingRuleFactory(sources=["zillow"], lead_types=["seller"], tags=["vip"]), lead) == [
        "lead_types"
    ]


def test_the_catch_all_matches_every_lead(catch_all):
    catch_all.sources = ["zillow"]  # even with a condition set by hand

    assert matches(catch_all, new_lead(source="website"))
