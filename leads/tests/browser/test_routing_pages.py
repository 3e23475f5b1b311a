"""The routing pages in headless Chromium, with the keyboard alone: an agent claims an
offer (its countdown running) and passes on another; a manager writes a rule and
moves it up. Each control is reached with Tab and shows the focus ring."""

import pytest

from integrations.routing import engine
from integrations.routing.models import Offer, OfferState, RoutingMethod, RoutingRule
from integrations.routing.tests.factories import RoutingRuleFactory, RuleMemberFactory
from leads.models import Lead, Role
from leads.tests.browser.conftest import log_in, screenshot
from leads.tests.browser.test_keyboard_and_screen_readers import assert_focus_ring, tab_to
from leads.tests.browser.waiting import wait_until
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def crew(transactional_db):
    """A manager and two agents; a first-to-claim rule offering two new leads to the agents."""
    manager = UserFactory(username="rt_manager", first_name="Mia", last_name="Stone", role=Role.MANAGER)
    alice = UserFactory(username="rt_alice", first_name="Alice", last_name="Nguyen")
    bob = UserFactory(username="rt_bob", first_name="Bob", last_name="Okafor")
    catch_all = engine.ensure_catch_all(None)
    rule = RoutingRuleFactory(name="Portal buyers", method=RoutingMethod.FIRST_TO_CLAIM, claim_timeout_minutes=10)
    for agent in (alice, bob):
        RuleMemberFactory(rule=rule, agent=agent)
    leads = [
        LeadFactory(assigned_to=None, contact__first_name=first, contact__last_name="Buyer")
        for first in ("Priya", "Marcus")
    ]
    for lead in leads:
        engine.route_lead(lead.pk)
    return {"manager": manager, "alice": alice, "bob": bob, "leads": leads, "rule": rule, "catch_all": catch_all}


def test_an_agent_claims_an_offer_with_the_keyboard_alone(open_page, crew):
    alice, priya = crew["alice"], crew["leads"][0]
    offer = Offer.objects.get(lead=priya, agent=alice)
    page, _ = open_page()
    log_in(page, alice)
    page.goto("/routing/offers/")

    # the countdown runs (the script replaces the server's "9 minutes left")
    page.locator(f"#offer-{offer.pk} [data-countdown]").filter(has_text=":").wait_for()
    tab_to(page, f"#offer-{offer.pk}-claim")
    assert_focus_ring(page, "the Claim button")
    page.keyboard.press("Enter")

    page.wait_for_url(f"**/leads/{priya.public_id}/")
    page.locator("#flash").get_by_text("is yours").wait_for()
    priya.refresh_from_db()
    assert priya.assigned_to == alice
    assert Offer.objects.get(lead=priya, agent=crew["bob"]).state == OfferState.WITHDRAWN
    page.locator("#routing-trace").get_by_text("Assigned to Alice Nguyen").wait_for()


def test_an_agent_passes_on_an_offer_with_the_keyboard_and_stays_on_the_page(open_page, crew):
    bob, marcus = crew["bob"], crew["leads"][1]
    offer = Offer.objects.get(lead=marcus, agent=bob)
    page, _ = open_page(width=390)
    log_in(page, bob)
    page.goto("/routing/offers/")

    tab_to(page, f"#offer-{offer.pk}-pass")
    page.keyboard.press("Space")  # HTMX swaps the list in place

    page.locator("#flash").get_by_text("Passed on Marcus Buyer").wait_for()
    assert page.locator(f"#offer-{offer.pk}").count() == 0
    assert Offer.objects.get(pk=offer.pk).state == OfferState.PASSED
    # the keyboard stays in the list it was in (not back at the top of the page)
    wait_until(page, "document.activeElement && document.activeElement.closest('#offers') !== null")
    screenshot(page, "routing-offers-after-pass-mobile")


def test_a_manager_writes_a_rule_and_moves_it_up_with_the_keyboard_alone(open_page, crew):
    manager, alice, bob = crew["manager"], crew["alice"], crew["bob"]
    page, _ = open_page()
    log_in(page, manager)
    page.goto("/routing/rules/")

    tab_to(page, "a.button", text="New rule")
    page.keyboard.press("Enter")
    page.wait_for_url("**/routing/rules/new/**")
    tab_to(page, "#id_name")
    page.keyboard.type("Spanish speakers")
    tab_to(page, "#id_languages")
    page.keyboard.type("es")
    # first to claim: the radio group answers the arrow keys
    tab_to(page, "input[name=method]")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.value") == RoutingMethod.FIRST_TO_CLAIM
    assert_focus_ring(page, "the method's radio")
    tab_to(page, f"#id_member_{alice.pk}")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == f"id_weight_{alice.pk}"
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    tab_to(page, f"#id_member_{bob.pk}")
    page.keyboard.press("Space")
    tab_to(page, "#rule-save")
    page.keyboard.press("Enter")

    page.wait_for_url("**/routing/rules/**")
    page.locator("#flash").get_by_text('Rule "Spanish speakers" saved').wait_for()
    rule = RoutingRule.objects.get(name="Spanish speakers")
    assert (rule.languages, rule.method) == (["es"], RoutingMethod.FIRST_TO_CLAIM)
    assert sorted((member.agent.username, member.weight) for member in rule.members.all()) == [
        ("rt_alice", 3),
        ("rt_bob", 1),
    ]

    # the new rule is last (before the catch-all): move it up, above "Portal buyers"
    tab_to(page, f"#rule-{rule.pk}-up")
    page.keyboard.press("Enter")
    page.locator("#flash").get_by_text("is now rule 1").wait_for()
    order = list(RoutingRule.objects.filter(is_catch_all=False).order_by("position").values_list("name", flat=True))
    assert order == ["Spanish speakers", "Portal buyers"]


def test_a_rule_with_bad_input_comes_back_with_its_errors_and_the_keyboard_reaches_them(open_page, crew):
    page, _ = open_page()
    log_in(page, crew["manager"])
    page.goto("/routing/rules/new/")

    tab_to(page, "#id_name")
    page.keyboard.type("Upside down")
    tab_to(page, "#id_min_price")
    page.keyboard.type("900000")
    page.keyboard.press("Tab")
    page.keyboard.type("100000")
    tab_to(page, "#rule-save")
    page.keyboard.press("Enter")

    page.locator("#form-errors").wait_for()
    assert "no lead could match" in page.locator("#id_max_price_error").inner_text()
    assert RoutingRule.objects.filter(name="Upside down").count() == 0
    assert Lead.objects.count() == 2


def test_a_manager_deletes_a_rule_with_the_keyboard_after_confirming(open_page, crew):
    rule = crew["rule"]
    page, _ = open_page(width=390)
    log_in(page, crew["manager"])
    page.goto("/routing/rules/")

    tab_to(page, f"#rule-{rule.pk} summary")
    page.keyboard.press("Enter")  # opens the confirmation
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == f"rule-{rule.pk}-delete"
    assert_focus_ring(page, "the confirming Delete button")
    page.keyboard.press("Enter")

    page.locator("#flash").get_by_text('Rule "Portal buyers" deleted.').wait_for()
    assert not RoutingRule.objects.filter(pk=rule.pk).exists()
    assert RoutingRule.objects.filter(is_catch_all=True).exists()
