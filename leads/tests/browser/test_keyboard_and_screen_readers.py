"""The work pages with a keyboard alone and with a screen reader: every control in the
Tab order with a visible focus ring, whole flows with keys only, the charts' figures
as tables, and HTMX changes read out by live regions."""

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from leads.core import followups
from leads.imports import services as imports
from leads.models import FollowUpTask, Lead, LeadStatus, Role, User
from leads.tests.browser.conftest import log_in, screenshot
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.browser

# Every control a keyboard can reach: visible, enabled, not taken out of the Tab order.
REACHABLE_CONTROLS = """() => {
  const selector = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [tabindex]';
  const shown = (element) => element.getClientRects().length > 0 && getComputedStyle(element).visibility !== "hidden";
  const folded = (element) => element.closest("details:not([open]) > :not(summary)");
  const controls = Array.from(document.querySelectorAll(selector)).filter((element) =>
    !element.disabled && element.tabIndex >= 0 && shown(element) && !folded(element));
  controls.forEach((element, index) => { element.dataset.kbIndex = String(index); });
  return controls.map((element) => element.outerHTML.slice(0, 120));
}"""
FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) { return null; }
  const style = getComputedStyle(element);
  return {index: element.dataset.kbIndex ?? null, html: element.outerHTML.slice(0, 120),
          outline: style.outlineStyle, width: parseFloat(style.outlineWidth), color: style.outlineColor};
}"""
FOCUS_RING_COLOR = "rgb(232, 89, 12)"  # --focus-ring in app.css


def tab_to(page, selector: str, *, text: str | None = None, limit: int = 120) -> None:
    """Press Tab until the focused element matches ``selector`` (and holds ``text``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "([selector, text]) => { const element = document.activeElement;"
            " return !!element && element.matches(selector) && (!text || element.textContent.includes(text)); }",
            [selector, text],
        ):
            return
    raise AssertionError(f"Tab never reached {selector} {text or ''}")


def choose_with_arrows(page, value: str, *, limit: int = 12) -> None:
    """Move the focused <select> to ``value`` with the arrow keys."""
    for key in ("ArrowDown", "ArrowUp"):
        for _ in range(limit):
            if page.evaluate("() => document.activeElement.value") == value:
                return
            page.keyboard.press(key)
    raise AssertionError(f"the arrow keys never reached {value}")


def assert_focus_ring(page, where: str) -> None:
    focused = page.evaluate(FOCUSED)
    assert focused, f"{where}: the focus was lost"
    assert focused["outline"] != "none" and focused["width"] >= 2, f"{where}: no focus ring on {focused['html']}"


@pytest.fixture
def team(transactional_db):
    """A manager and an agent with leads in several statuses, follow-ups and an import."""
    manager = UserFactory(username="kb_manager", first_name="Mia", last_name="Stone", role=Role.MANAGER)
    agent = UserFactory(username="kb_agent", first_name="Alice", last_name="Nguyen", role=Role.AGENT)
    statuses = [LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.SHOWING, LeadStatus.NEW]
    leads = [
        LeadFactory(assigned_to=agent, status=status, contact__first_name=first, contact__last_name="Keyes")
        for status, first in zip(statuses, ["Zelda", "Yusuf", "Xavier", "Wanda", "Victor"], strict=True)
    ]
    now = timezone.now()
    for lead, hours in zip(leads[:3], [-2, 3, 30], strict=True):
        followups.follow_up_create(
            actor=agent,
            lead_id=lead.public_id,
            title=f"Call {lead.contact.first_name}",
            due_at=now + timedelta(hours=hours),
        )
    for user in (manager, agent):
        job = imports.import_create(
            actor=user,
            file_name="leads.csv",
            content=b"first_name,email,lead_type\nIda,ida@example.com,buyer\nX,bad,buyer\n",
        )
        imports.run_import(import_id=job.pk)
    return {"manager": manager, "agent": agent, "leads": leads}


# --- keyboard ---------------------------------------------------------------------


def test_an_agent_opens_a_lead_logs_a_call_and_changes_its_status_with_the_keyboard_alone(open_page, team):
    agent, lead = team["agent"], team["leads"][0]
    page, _ = open_page()
    log_in(page, agent)
    page.goto("/leads/")

    # open the lead from the list
    tab_to(page, "a.lead-link", text="Zelda Keyes")
    assert_focus_ring(page, "the lead's link")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/leads/{lead.public_id}/")

    # log a call: type the summary, Enter sends the form (HTMX swaps the page in place)
    tab_to(page, "#id_summary")
    page.keyboard.type("Talked budget; wants a garden")
    page.keyboard.press("Enter")
    page.locator("#timeline").get_by_text("Talked budget; wants a garden").wait_for()
    assert page.evaluate("document.activeElement.id") == "id_summary"  # the keyboard is where it was

    # change its status: arrow keys in the menu, Space on the button
    tab_to(page, "#id_status")
    choose_with_arrows(page, LeadStatus.QUALIFIED)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "status-submit"
    page.keyboard.press("Space")
    page.locator("#lead-status", has_text="Qualified").wait_for()
    assert page.evaluate("document.activeElement.id") == "status-submit"
    assert_focus_ring(page, "the status button after the swap")

    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED
    assert lead.interactions.get().summary == "Talked budget; wants a garden"
    assert lead.interactions.get().created_by == agent
    screenshot(page, "keyboard-lead-page")


def test_a_manager_changes_the_status_of_two_leads_in_bulk_with_the_keyboard_alone(open_page, team):
    zelda, yusuf = team["leads"][0], team["leads"][1]
    page, _ = open_page()
    log_in(page, team["manager"])
    page.goto("/leads/?ordering=last_name")

    # tick two leads with Space
    for name in ("Zelda Keyes", "Yusuf Keyes"):
        tab_to(page, f'input[name="lead_ids"][aria-label="Select {name}"]')
        page.keyboard.press("Space")
    assert page.locator("[data-selected-count]").inner_text() == "2 selected"

    # pick "Change status to", then the status, with the arrow keys
    tab_to(page, "#id_bulk_action")
    choose_with_arrows(page, "status")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_bulk_status"  # the agent menu hid itself
    choose_with_arrows(page, LeadStatus.NURTURE)
    page.keyboard.press("Tab")
    assert_focus_ring(page, "the bulk button")
    page.keyboard.press("Enter")
    page.locator("#flash", has_text="Updated the status of 2 leads.").wait_for()

    assert set(Lead.objects.filter(pk__in=[zelda.pk, yusuf.pk]).values_list("status", flat=True)) == {"nurture"}


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("manager", "/"),
        ("manager", "/leads/"),
        ("manager", "lead"),
        ("agent", "/follow-ups/"),
        ("agent", "/imports/"),
    ],
)
def test_every_control_of_the_work_pages_is_reached_with_tab_and_shows_a_focus_ring(open_page, team, who, path):
    page, _ = open_page()
    log_in(page, team[who])
    page.goto(f"/leads/{team['leads'][0].public_id}/" if path == "lead" else path)
    controls = page.evaluate(REACHABLE_CONTROLS)
    assert len(controls) > 8

    visited, previous = set(), None
    for _ in range(3 * len(controls)):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is not None and focused["index"] == previous:
            continue  # Tab moves between the parts of a date input
        if focused is None or focused["index"] in visited:
            break  # out of the page, or round again
        assert focused["outline"] != "none" and focused["width"] >= 2, f"no focus ring on {focused['html']}"
        assert focused["color"] == FOCUS_RING_COLOR, focused
        visited.add(focused["index"])
        previous = focused["index"]

    missed = [html for index, html in enumerate(controls) if str(index) not in visited]
    assert not missed, f"not reached with Tab: {missed}"


def test_a_table_wider_than_a_phone_scrolls_with_the_arrow_keys(open_page, team):
    page, _ = open_page(width=390)
    log_in(page, team["manager"])
    page.goto("/")

    tab_to(page, '[role="region"][aria-label="Team table"]')
    assert_focus_ring(page, "the team table")
    page.keyboard.press("ArrowRight")

    for _ in range(20):  # the browser scrolls smoothly
        if page.evaluate("document.activeElement.scrollLeft") > 0:
            break
        page.wait_for_timeout(50)
    assert page.evaluate("document.activeElement.scrollLeft") > 0


# --- screen readers -------------------------------------------------------------------


def test_a_status_change_made_with_htmx_is_read_out_by_the_live_region(open_page, team):
    lead = team["leads"][1]
    page, _ = open_page()
    log_in(page, team["agent"])
    page.goto(f"/leads/{lead.public_id}/")
    page.evaluate("window.__liveRegion = document.getElementById('flash')")

    page.select_option("#id_status", LeadStatus.SHOWING)
    page.click("#status-submit")
    page.locator("#lead-status", has_text="Showing").wait_for()

    # the region that was there before the swap now says what happened: screen readers
    # read out changes to a live region, not a region swapped in whole
    assert page.evaluate("document.getElementById('flash') === window.__liveRegion")
    assert page.get_attribute("#flash", "aria-live") == "polite"
    assert page.get_by_role("status").filter(has_text="Status: Showing.").count() == 1
    assert page.evaluate("window.__liveRegion.textContent.trim()") == "Status: Showing."


def test_the_filtered_lead_list_reads_out_its_count(open_page, team):
    page, _ = open_page()
    log_in(page, team["agent"])
    page.goto("/leads/")

    page.select_option("#id_status", LeadStatus.NEW)
    page.wait_for_url(re.compile(r"status=new"))

    page.locator("#announcer", has_text=re.compile(r"^2 leads")).wait_for(state="attached")
    assert page.get_attribute("#announcer", "aria-live") == "polite"


def test_an_import_that_finishes_while_its_page_is_open_is_read_out(open_page, team):
    # given an uploaded import not started yet, its page open and polling
    agent = team["agent"]
    job = imports.import_create(
        actor=agent, file_name="late.csv", content=b"first_name,email,lead_type\nLea,lea@example.com,buyer\n"
    )
    page, _ = open_page()
    log_in(page, agent)
    page.goto(f"/imports/{job.pk}/")
    assert page.locator("#progress-title").inner_text() == "Waiting to start…"

    # when it runs to the end
    imports.run_import(import_id=job.pk)

    # then the next poll shows it and the page's live region says so
    page.locator("#announcer", has_text="Import finished").wait_for(state="attached")
    assert page.locator(".summary-ok dd").inner_text() == "1"


@pytest.fixture
def demo_team(transactional_db):
    call_command("seed_demo", stdout=StringIO())
    return User.objects.get(username="manager")


def test_every_chart_has_its_figures_in_a_table_a_screen_reader_reads(open_page, demo_team):
    page, _ = open_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "demo-pass-2026")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    lead = Lead.objects.filter(status=LeadStatus.SHOWING).order_by("pk").first()

    charts = []
    for path in ["/", f"/leads/{lead.public_id}/"]:
        page.goto(path)
        for name in page.evaluate(
            "Array.from(document.querySelectorAll('canvas[data-chart]'), (c) => c.dataset.chart)"
        ):
            canvas = page.locator(f'canvas[data-chart="{name}"]')
            data = json.loads(
                page.evaluate(
                    "(canvas) => document.getElementById(canvas.dataset.chartData).textContent", canvas.element_handle()
                )
            )
            # next to the picture, a table hidden from sight but not from screen readers
            beside = "following-sibling::div[contains(@class, 'visually-hidden')][1]"
            table = canvas.locator(f"xpath=ancestor::div[contains(@class, 'chart-box')]/{beside}").get_by_role("table")
            snapshot = table.aria_snapshot()
            for label, values in _rows(data, money=name == "market"):
                assert f'row "{label} {" ".join(values)}"' in snapshot, (name, label, values, snapshot)
            charts.append(name)

    assert sorted(charts) == ["funnel", "market", "scores", "sources", "speed"]


def _rows(data: dict, *, money: bool) -> list[tuple[str, list[str]]]:
    series = [dataset["data"] for dataset in data["datasets"]] if "datasets" in data else [data["values"]]

    def shown(value) -> str:
        if value is None:
            return "no data"
        return f"${value:,.0f}" if money else str(value)

    return [(label, [shown(values[index]) for values in series]) for index, label in enumerate(data["labels"])]


def test_follow_up_buttons_say_which_task_they_act_on(open_page, team):
    page, _ = open_page()
    log_in(page, team["agent"])
    page.goto("/follow-ups/")
    task = FollowUpTask.objects.get(title="Call Zelda")

    assert page.get_by_role("button", name="Done: Call Zelda", exact=True).count() == 1
    assert page.get_by_role("button", name="+1 h: snooze Call Zelda for an hour", exact=True).count() == 1
    assert page.get_by_role("button", name="Tomorrow 9:00: snooze Call Zelda", exact=True).count() == 1
    # what the eye sees starts the name (WCAG 2.5.3, label in name)
    assert page.locator(f"#task-{task.pk}-done").inner_text() == "Done"
