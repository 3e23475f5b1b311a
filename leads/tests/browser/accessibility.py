"""axe-core in the page, and the site's routes as pages to check.

axe-core is vendored from npm (``static/vendor/axe.min.js``, see package.json) and
loaded from the live server like the app's own scripts, so the Content-Security-Policy
holds while it runs.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

AXE_URL = "/static/vendor/axe.min.js"
WCAG_21_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = ("critical", "serious")

# Route prefixes that hold no agent or manager page: the back office, and the REST API
# with its Swagger UI (a developer page drf-spectacular renders, not linked from the app).
OUT_OF_SCOPE_PREFIXES = ("admin/", "api/")

# Routes that answer with no page of their own. Every other named route is a page, and
# the accessibility tests open it; a new one is checked without being listed here.
NOT_PAGES = {
    "logout": "a form post",
    "password_change": "the admin's password change (admin templates; out of scope like the admin)",
    "password_change_done": "the admin's password change (admin templates; out of scope like the admin)",
    "leads:lead_export": "a CSV download",
    "leads:lead_bulk_action": "a form post",
    "leads:saved_filter_create": "a form post",
    "leads:saved_filter_delete": "a form post",
    "leads:lead_log_interaction": "a form post (the lead page, swapped in by HTMX)",
    "leads:lead_change_status": "a form post (the lead page, swapped in by HTMX)",
    "leads:lead_assign": "a form post (the lead page, swapped in by HTMX)",
    "leads:lead_add_follow_up": "a form post (the lead page, swapped in by HTMX)",
    "leads:follow_up_done": "a form post",
    "leads:follow_up_snooze": "a form post",
    "leads:import_progress": "the import report's polled part (checked within leads:import_detail)",
    "leads:import_errors_csv": "a CSV download",
    "leads:time_off_add": "a form post (the settings page)",
    "leads:time_off_delete": "a form post (the settings page)",
    "alerts:push_subscribe": "a JSON post from the notifications page's script",
    "alerts:push_unsubscribe": "a JSON post from the notifications page's script",
    "alerts:push_subscription_remove": "a form post (the notifications page)",
    "sms:status_callback": "the SMS provider's signed status callback",
    "sms:inbound": "the SMS provider's signed incoming-text webhook",
    "plans:inbound_email": "the mail provider's inbound-parse webhook (multipart post)",
    "plans:step_delete": "a form post (the plan editor)",
    "plans:step_move": "a form post (the plan editor)",
    "plans:lead_plan_start": "a form post (the lead page's Plans card)",
    "plans:lead_plan_stop": "a form post (the lead page's Plans card)",
    "plans:lead_plan_resume": "a form post (the lead page's Plans card)",
    "plans:lead_consent": "a form post (the lead page's Plans card)",
    "manifest": "the web app manifest (JSON)",
    "service_worker": "the service worker (JavaScript)",
    "routing:rule_delete": "a form post (the rules page)",
    "routing:rule_move": "a form post (the rules page)",
    "routing:offer_claim": "a form post (the offers page, or HTMX)",
    "routing:offer_pass": "a form post (the offers page, swapped in by HTMX)",
    "routing:pond_take": "a form post (the pond, or HTMX)",
    "routing:agent_settings": "a form post (the agents' settings page)",
    "routing:pause": "a form post (the offers page)",
    "reports:index": "a redirect to the funnel report",
    "reports:export_csv": "a CSV download (opened by the reports' browser tests)",
    "reports:export_pdf": "a PDF download (opened by the reports' browser tests)",
    "winprob:activate": "a form post (the model backtest page's rollback)",
    "property_alerts:open": "an alert's open pixel (a 1x1 GIF)",
    "property_alerts:click": "an alert's click (a redirect to the listing)",
    "property_alerts:lead_frequency": "a form post (the lead page's Property alerts card)",
}

# Pages for managers and admins only: an agent is refused (403), and the tests check that too.
MANAGER_PAGES = {
    "plans:plan_list",
    "plans:plan_create",
    "plans:plan_detail",
    "plans:step_create",
    "plans:step_edit",
    "plans:plan_preview",
    "plans:plan_who",
    "routing:rules",
    "routing:rule_create",
    "routing:rule_edit",
    "routing:ledger",
    "routing:agents",
    "reports:spend",
    "reports:email_settings",
    "winprob:backtest",
}

# Pages for visitors who are not signed in; every other page is opened by an agent and a manager.
PUBLIC_PAGES = {
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "workflows:unsubscribe",
    "routing:claim_by_token",
    "property_alerts:frequency",
    "property_alerts:listing",
}

# More states of a page worth checking: filters, scopes.
VARIANTS = {
    "leads:lead_list": ["?status=new&ordering=created_at", "?search=a&source=website&score_min=20&urgency=high"],
    "leads:follow_ups": ["?scope=team"],
    "routing:ledger": ["?period=30d", "?period=custom&start=2026-02-10&end=2026-02-01"],
    "reports:funnel": ["?by=agent&source=website&lead_type=buyer"],
    "reports:stages": ["?stuck_days=3"],
}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    pattern: str
    arguments: tuple[str, ...]


def site_routes() -> list[Route]:
    """Every named route of the root URLconf outside ``OUT_OF_SCOPE_PREFIXES``, once each."""
    routes: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns, prefix="", namespace=""):
        if not route.pattern.startswith(OUT_OF_SCOPE_PREFIXES):
            routes.setdefault(route.name, route)
    return list(routes.values())


def _walk(patterns, *, prefix: str, namespace: str) -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from _walk(entry.url_patterns, prefix=prefix + str(entry.pattern), namespace=inner)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Route(name, prefix + str(entry.pattern), tuple(entry.pattern.converters))


def pages(*, public: bool) -> list[Route]:
    """The routes that are pages: the public ones, or those behind the sign-in."""
    return [route for route in site_routes() if route.name not in NOT_PAGES and (route.name in PUBLIC_PAGES) == public]


def page_urls(route: Route, arguments: dict[str, Callable[[], str]]) -> list[str]:
    """The URLs to check for ``route``: its own, then its ``VARIANTS``. ``arguments``
    gives a value for each URL argument by name (a KeyError names a missing one)."""
    from django.urls import reverse

    missing = [name for name in route.arguments if name not in arguments]
    if missing:
        raise KeyError(f"No sample value for {missing} of the page {route.name!r}: add one to the test's arguments.")
    url = reverse(route.name, kwargs={name: arguments[name]() for name in route.arguments})
    return [url, *(url + variant for variant in VARIANTS.get(route.name, []))]


def run_axe(page) -> list[dict]:
    """Inject axe-core and check the page against WCAG 2.1 A and AA, every ``<details>``
    opened first; returns axe's violations (``id``, ``impact``, ``help``, ``nodes``)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_URL)
    return page.evaluate(
        """async (tags) => {
            document.querySelectorAll("details").forEach((details) => { details.open = true; });
            // the page reacts to the "toggle" events before axe looks
            await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
            const options = {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]};
            const results = await window.axe.run(document, options);
            return results.violations.map((rule) => ({
                id: rule.id, impact: rule.impact, help: rule.help,
                nodes: rule.nodes.map((node) => ({target: node.target.join(" "), summary: node.failureSummary})),
            }));
        }""",
        WCAG_21_A_AA,
    )


def blocking(violations: list[dict]) -> list[dict]:
    return [violation for violation in violations if violation["impact"] in BLOCKING_IMPACTS]


def describe(where: str, violations: list[dict]) -> str:
    """One line per rule, with up to three of its elements and axe's first reason."""
    lines = []
    for rule in violations:
        targets = "; ".join(node["target"] for node in rule["nodes"][:3])
        reason = (rule["nodes"][0]["summary"] or "").splitlines()[-1].strip() if rule["nodes"] else ""
        lines.append(f"{where}: {rule['id']} ({rule['impact']}, {len(rule['nodes'])}x) {targets} -- {reason}")
    return "\n".join(lines)
