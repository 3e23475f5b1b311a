"""WCAG 2.1 A and AA on every page, checked by axe-core in headless Chromium.

Every named route of the site is a page to check unless ``accessibility.NOT_PAGES``
says why not (form posts, downloads); the admin and the API are out of scope. An agent
and a manager open each page on the demo team's data (``seed_demo``, an import with
errors, a smart list), at desktop and phone widths; a visitor opens the sign-in,
password reset and unsubscribe pages. No critical or serious violation may remain.
axe's full results are written to ``artifacts/axe/``.
"""

import json
from io import StringIO

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.http import QueryDict
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from integrations.market.models import Listing
from integrations.plans.models import PlanStep
from integrations.property_alerts import links as alert_links
from integrations.routing.models import RoutingRule
from integrations.routing.offers import claim_token
from integrations.routing.tests.factories import OfferFactory
from integrations.workflows.unsubscribe import unsubscribe_token
from leads.core.selectors import visible_leads
from leads.imports import services as imports
from leads.management.commands.seed_demo import DEMO_PASSWORD
from leads.models import LeadImport, LeadStatus, User
from leads.reporting import saved_filters
from leads.tests.browser.accessibility import (
    MANAGER_PAGES,
    NOT_PAGES,
    blocking,
    describe,
    page_urls,
    pages,
    run_axe,
    site_routes,
)
from leads.tests.browser.conftest import SCREENSHOTS

WIDTHS = (1280, 390)
REPORTS = SCREENSHOTS.parent / "axe"
IMPORT_CSV = (
    "first_name,last_name,email,lead_type,source\n"
    "Ines,Imported,ines.imported@example.com,buyer,website\n"
    "Omar,Imported,omar.imported@example.com,seller,referral\n"
    "Broken,Row,not-an-email,buyer,website\n"
    "Ines,Again,ines.imported@example.com,buyer,website\n"
)
# The URL arguments the pages take, and where the tests find a value for each.
SIGNED_IN_ARGUMENTS = {"lead_id", "import_id", "plan_id", "step_id", "rule_id"}
PUBLIC_ARGUMENTS = {
    "password_reset_confirm": {"uidb64", "token"},
    "workflows:unsubscribe": {"token"},
    "routing:claim_by_token": {"token"},
    "property_alerts:frequency": {"token"},
    "property_alerts:listing": {"token"},
}


@pytest.fixture
def demo_team(transactional_db):
    """The demo team as ``make run`` loads it, and for the agent and the manager an
    import with a duplicate and a bad row, and a smart list."""
    call_command("seed_demo", stdout=StringIO())
    team = {"manager": User.objects.get(username="manager"), "agent": User.objects.get(username="alice")}
    for user in team.values():
        job = imports.import_create(actor=user, file_name="open-house.csv", content=IMPORT_CSV.encode())
        imports.run_import(import_id=job.pk)
        saved_filters.saved_filter_create(
            owner=user, name="Hot buyers", query=QueryDict("lead_type=buyer&score_min=60")
        )
    return team


def signed_in_arguments(user: User) -> dict:
    return {
        # a lead with the most to show: calls, a showing, status history, market chart, follow-ups
        "lead_id": lambda: visible_leads(user).filter(status=LeadStatus.SHOWING).order_by("pk").first().public_id,
        "import_id": lambda: LeadImport.objects.filter(created_by=user).latest("pk").pk,
        # the demo's new web lead plan (seed_plans_demo) and its first step: an email
        "plan_id": lambda: PlanStep.objects.order_by("plan_id", "position").first().plan_id,
        "step_id": lambda: PlanStep.objects.order_by("plan_id", "position").first().pk,
        # the demo's rule with a warning (its price range overlaps an earlier rule's)
        "rule_id": lambda: RoutingRule.objects.filter(team=user.team, is_catch_all=False).order_by("-position")[0].pk,
    }


def public_arguments(route_name: str, user: User) -> dict:
    if route_name == "routing:claim_by_token":
        return {"token": lambda: claim_token(OfferFactory(agent=user, decision__lead__team=user.team))}
    if route_name == "property_alerts:frequency":
        return {"token": lambda: alert_links.frequency_token(visible_leads(user).order_by("pk").first().public_id)}
    if route_name == "property_alerts:listing":
        return {"token": lambda: alert_links.listing_token(Listing.objects.order_by("pk").first().pk)}
    if route_name == "workflows:unsubscribe":
        return {"token": lambda: unsubscribe_token(lead=visible_leads(user).order_by("pk").first())}
    return {
        "uidb64": lambda: urlsafe_base64_encode(force_bytes(user.pk)),
        "token": lambda: default_token_generator.make_token(user),
    }


def log_in(page, user: User) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def check(page, urls: list[str], *, who: str, width: int, report: dict, settle: bool = False) -> list[str]:
    """Open each URL and run axe; returns the blocking violations, described."""
    failures = []
    for url in urls:
        response = page.goto(url)
        if settle:  # a page whose script writes (the claim link claims): done before the next page or teardown
            page.wait_for_load_state("networkidle")
        assert response.status == 200, f"{url} answered {response.status}: if it is not a page, list it in NOT_PAGES"
        violations = run_axe(page)
        report[f"{who} {width}px {url}"] = violations
        if blocking(violations):
            failures.append(describe(f"{who} {width}px {url}", blocking(violations)))
    return failures


def write_report(name: str, report: dict) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(report, indent=1))


def test_every_route_is_a_page_the_tests_open_or_says_why_not():
    names = {route.name for route in site_routes()}
    signed_in, public = pages(public=False), pages(public=True)

    assert set(NOT_PAGES) <= names, f"no such route any more: {set(NOT_PAGES) - names}"
    # the pages the agents live in are found (the walk is not empty by mistake)
    assert {"leads:dashboard", "leads:lead_list", "leads:lead_detail", "leads:lead_create", "leads:lead_edit"} <= {
        route.name for route in signed_in
    }
    assert {"leads:follow_ups", "leads:imports", "leads:import_detail"} <= {route.name for route in signed_in}
    assert {"login", "password_reset", "password_reset_confirm"} <= {route.name for route in public}
    # and the tests have a value for every argument a page takes
    for route in signed_in:
        assert set(route.arguments) <= SIGNED_IN_ARGUMENTS, f"{route.name}: give the tests a value for its arguments"
    for route in public:
        assert set(route.arguments) <= PUBLIC_ARGUMENTS.get(route.name, set()), route.name


@pytest.mark.browser
@pytest.mark.parametrize("role", ["manager", "agent"])
def test_every_signed_in_page_has_no_serious_wcag_21_violation(open_page, demo_team, role):
    user = demo_team[role]
    routes = [route for route in pages(public=False) if role == "manager" or route.name not in MANAGER_PAGES]
    urls = [url for route in routes for url in page_urls(route, signed_in_arguments(user))]
    refused = [
        url
        for route in pages(public=False)
        if route.name in MANAGER_PAGES
        for url in page_urls(route, signed_in_arguments(user))
    ]
    report, failures = {}, []

    for width in WIDTHS:
        page, _problems = open_page(width=width)
        log_in(page, user)
        failures += check(page, urls, who=role, width=width, report=report)
        if role == "agent":  # the managers' pages refuse an agent
            for url in refused:
                assert page.request.get(url).status == 403, url

    write_report(role, report)
    assert len(report) == len(urls) * len(WIDTHS)
    assert not failures, "\n".join(failures)


@pytest.mark.browser
def test_sign_in_password_reset_and_unsubscribe_pages_have_no_serious_wcag_21_violation(open_page, demo_team):
    user = demo_team["agent"]
    routes = pages(public=True)
    report, failures = {}, []

    for width in WIDTHS:
        page, _problems = open_page(width=width)
        urls = [url for route in routes for url in page_urls(route, public_arguments(route.name, user))]
        failures += check(page, urls, who="visitor", width=width, report=report, settle=True)

    write_report("visitor", report)
    assert not failures, "\n".join(failures)
