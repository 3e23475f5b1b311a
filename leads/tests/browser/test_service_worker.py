"""The installable app in headless Chromium: the service worker registers for the whole
site from the Notifications page, caches the app shell, and shows a pushed alert as a
notification with its actions; the manifest is linked and loads. All under the site's
Content-Security-Policy (``open_page`` fails a test on any violation or console error).

A real push service cannot be reached offline, so ``pushManager.subscribe`` (which asks
the browser vendor's push service for an endpoint) is not exercised here; the push is
handed to the worker through the DevTools protocol (``ServiceWorker.deliverPushMessage``),
and the server side of pushing is tested against a loopback push service
(``test_push_delivery``)."""

import json

import pytest

from leads.tests.browser.conftest import log_in, screenshot
from leads.tests.browser.waiting import wait_until
from leads.tests.factories import UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def agent_page(open_page, settings, live_server):
    from integrations.alerts.vapid import generate_keys

    keys = generate_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY, settings.WEBPUSH_VAPID_PUBLIC_KEY = keys.private_key, keys.public_key
    page, _problems = open_page(width=420, height=900, service_workers=True)
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    log_in(page, UserFactory(username="pwa_agent"))
    return page


def test_the_worker_registers_for_the_whole_site_and_caches_the_shell(agent_page, live_server):
    page = agent_page
    page.goto("/notifications/")
    registration = page.evaluate(
        """async () => {
            const ready = await navigator.serviceWorker.ready;
            return {scope: ready.scope, script: ready.active.scriptURL};
        }"""
    )
    assert registration == {"scope": f"{live_server.url}/", "script": f"{live_server.url}/sw.js"}
    cached = page.evaluate(
        """async () => {
            const names = (await caches.keys()).filter((name) => name.startsWith("lead-desk-shell-"));
            const cache = await caches.open(names[0]);
            return {names, urls: (await cache.keys()).map((request) => new URL(request.url).pathname)};
        }"""
    )
    assert len(cached["names"]) == 1
    assert {"/static/css/app.css", "/static/js/app.js", "/offline/"} <= set(cached["urls"])
    # the manifest is linked and loads
    manifest = page.evaluate(
        """async () => {
            const link = document.querySelector('link[rel="manifest"]');
            return (await fetch(link.href)).json();
        }"""
    )
    assert manifest["name"] == "Lead desk"
    assert page.locator("#push-enable").is_visible() and not page.locator("#push-disable").is_visible()
    assert "Notifications are off for this device." in page.locator("#push-state").inner_text()
    screenshot(page, "alerts-notifications-page")


def test_a_pushed_alert_is_shown_with_its_actions(agent_page, live_server):
    page = agent_page
    page.goto("/notifications/")
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    devtools = page.context.new_cdp_session(page)
    registrations = []
    devtools.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    devtools.send("ServiceWorker.enable")
    page.wait_for_timeout(300)
    (registration,) = [entry for entry in registrations if entry["scopeURL"] == f"{live_server.url}/"]
    alert = {
        "title": "Lead up for grabs: Ada Lovelace",
        "body": "Zillow · $300k\u2013$500k",
        "lead_id": "lead_0123456789abcdef01234567",
        "url": f"{live_server.url}/leads/lead_0123456789abcdef01234567/",
        "tag": "lead-lead_0123456789abcdef01234567",
        "actions": [
            {
                "action": "claim",
                "title": "Claim",
                "url": f"{live_server.url}/leads/lead_0123456789abcdef01234567/claim/",
            },
            {"action": "call", "title": "Call", "url": "tel:+14155550134"},
        ],
    }
    devtools.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live_server.url, "registrationId": registration["registrationId"], "data": json.dumps(alert)},
    )
    wait_until(page, "async () => (await (await navigator.serviceWorker.ready).getNotifications()).length === 1")
    shown = page.evaluate(
        """async () => {
            const [n] = await (await navigator.serviceWorker.ready).getNotifications();
            return {title: n.title, body: n.body, tag: n.tag, actions: n.actions.map((a) => a.action), data: n.data};
        }"""
    )
    assert shown["title"] == alert["title"] and shown["body"] == alert["body"] and shown["tag"] == alert["tag"]
    assert shown["actions"] == ["claim", "call"]
    assert shown["data"]["url"] == alert["url"]
    assert shown["data"]["actions"][0]["url"].endswith("/claim/")
