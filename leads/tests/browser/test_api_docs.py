"""Swagger UI at /api/v2/docs in a real browser: served offline (every request stays
on this server), under the site's Content-Security-Policy (checked by ``open_page``),
and able to call the API it describes."""

import pytest
from rest_framework.authtoken.models import Token

from leads.tests.browser.conftest import screenshot
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.browser


def test_api_docs_render_offline_under_the_content_security_policy(open_page, live_server):
    # given an anonymous visitor (the docs are public) recording every request the page makes
    page, _problems = open_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    # when the docs page loads
    response = page.goto("/api/v2/docs")

    # then Swagger UI shows the leads operations from the schema
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("#operations-leads-leads_list")
    assert page.locator(".opblock").count() >= 7
    assert page.locator(".info .title").inner_text().startswith("Lead management API")
    # and nothing came from anywhere but this server (no CDN)
    assert requested and all(url.startswith(live_server.url) for url in requested), requested
    screenshot(page, "api-docs")


def test_try_it_out_calls_the_api_with_a_bearer_token(open_page, transactional_db):
    # given an agent with a token and a lead
    agent = UserFactory(username="docs_agent")
    token = Token.objects.create(user=agent)
    LeadFactory(assigned_to=agent)
    page, _problems = open_page()
    page.goto("/api/v2/docs")
    page.wait_for_selector("#operations-leads-leads_list")

    # when the token is entered in Authorize and "List leads" is tried out
    page.click("button.authorize")
    page.fill(".auth-container input", token.key)
    page.click(".auth-btn-wrapper button.authorize")
    page.click("button.btn-done")
    page.click("#operations-leads-leads_list .opblock-summary")
    page.click("#operations-leads-leads_list button.try-out__btn")
    page.click("#operations-leads-leads_list button.execute")

    # then the API answers 200 with the agent's lead
    status = page.locator("#operations-leads-leads_list .live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip().startswith("200")
    body = page.locator("#operations-leads-leads_list .live-responses-table tbody .microlight").first.inner_text()
    assert '"total_count": 1' in body
