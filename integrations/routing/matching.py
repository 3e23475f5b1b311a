"""Whether a rule's conditions match a lead: plain functions over the lead's rows
(its contact, preferences and timeline loaded), so the rules page and the tests can
explain a match without the database."""

import re
from decimal import Decimal

from integrations.routing.models import RoutingRule
from leads.models import Lead

ZIP = re.compile(r"\b(\d{5})(?:-\d{4})?\b")


def _folded(values) -> set[str]:
    return {str(value).strip().casefold() for value in values or [] if str(value).strip()}


def lead_cities(lead: Lead) -> set[str]:
    """The lead's preferred locations, case-folded (a location "Austin, TX" also counts as "austin")."""
    found = set()
    for location in lead.preferences.preferred_locations or []:
        text = str(location).strip().casefold()
        if text:
            found.add(text)
            found.add(text.split(",")[0].strip())
    return found


def lead_zip_codes(lead: Lead) -> set[str]:
    """The five-digit ZIP codes among the lead's preferred locations."""
    return {
        match.group(1)
        for location in lead.preferences.preferred_locations or []
        for match in ZIP.finditer(str(location))
    }


def price_overlaps(rule: RoutingRule, low: Decimal | None, high: Decimal | None) -> bool:
    """Whether the lead's budget [low, high] meets the rule's price range; a lead with no
    budget matches only a rule with no price range."""
    if rule.min_price is None and rule.max_price is None:
        return True
    if low is None and high is None:
        return False
    low = low if low is not None else high
    high = high if high is not None else low
    if rule.min_price is not None and high < rule.min_price:
        return False
    return not (rule.max_price is not None and low > rule.max_price)


def failed_conditions(rule: RoutingRule, lead: Lead) -> list[str]:
    """The names of the rule's conditions the lead does not meet ([]: the rule matches).
    The catch-all matches every lead."""
    if rule.is_catch_all:
        return []
    failed = []
    if rule.sources and lead.source not in rule.sources:
        failed.append("sources")
    if rule.lead_types and lead.lead_type not in rule.lead_types:
        failed.append("lead_types")
    if rule.cities and not (_folded(rule.cities) & lead_cities(lead)):
        failed.append("cities")
    if rule.zip_codes and not ({str(code).strip() for code in rule.zip_codes} & lead_zip_codes(lead)):
        failed.append("zip_codes")
    if rule.languages and (lead.contact.preferred_language or "").casefold() not in _folded(rule.languages):
        failed.append("languages")
    if rule.tags and not (_folded(rule.tags) & _folded(lead.tags)):
        failed.append("tags")
    if rule.urgencies and lead.timeline.urgency_level not in rule.urgencies:
        failed.append("urgencies")
    if not price_overlaps(rule, lead.preferences.min_price, lead.preferences.max_price):
        failed.append("price")
    if rule.has_phone is not None and bool(lead.contact.phone) != rule.has_phone:
        failed.append("has_phone")
    return failed


def matches(rule: RoutingRule, lead: Lead) -> bool:
    return not failed_conditions(rule, lead)
