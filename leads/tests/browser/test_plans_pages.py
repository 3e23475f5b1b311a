"""The plans pages in headless Chromium: a manager builds a two-step plan with the
keyboard alone (the step form shows only the fields of the chosen kind), runs "who
would get this now", and an agent opens a lead's dry run ("what will happen") with its
verdicts in the lead's zone. Screenshots at 1280 and 390 px go to ``artifacts/``."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from integrations.plans import services
from integrations.plans.models import Plan, PlanStep, StepKind, TriggerKind
from leads.models import Lead, LeadStatus, Role, Team
from leads.tests.browser.conftest import log_in
from leads.tests.browser.test_keyboard_and_screen_readers import assert_focus_ring, tab_to
from leads.tests.browser.waiting import wait_until
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.browser

ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"
# Real cities around the clock: the dry-run test picks one where it is night right now,
# so a text waits for the morning whatever the time the test runs.
CITIES = [
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Athens",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
]


def artifact(page, name: str, *, element: str | None = None) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = str(ARTIFACTS / f"{name}.png")
    if element:
        page.locator(element).screenshot(path=path)
    else:
        # the whole page in one viewport (a full-page shot would leave the sticky sidebar behind)
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
        page.screenshot(path=path)


def night_city() -> str:
    now = datetime.now(tz=ZoneInfo("UTC"))
    return next(city for city in CITIES if not 9 <= now.astimezone(ZoneInfo(city)).hour < 20)


@pytest.fixture
def office(transactional_db):
    manager = UserFactory(username="pl_manager", first_name="Mia", last_name="Stone", role=Role.MANAGER)
    agent = UserFactory(username="pl_agent", first_name="Alice", last_name="Nguyen", manager=manager)
    return {"manager": manager, "agent": agent}


def test_a_manager_builds_a_two_step_plan_with_the_keyboard_alone(open_page, office):
    for width in (1280, 390):
        Plan.objects.all().delete()
        page, _ = open_page(width=width)
        log_in(page, office["manager"])
        page.goto("/")
        tab_to(page, "nav a", text="Plans")
        page.keyboard.press("Enter")
        page.wait_for_url("**/plans/")
        page.get_by_text("No plans yet").wait_for()

        tab_to(page, "a.button", text="New plan")
        page.keyboard.press("Enter")
        page.wait_for_url("**/plans/new/")
        tab_to(page, "#id_name")
        page.keyboard.type("Open house follow-up")
        tab_to(page, "#id_trigger")
        assert_focus_ring(page, "the trigger menu")
        page.keyboard.type("A tag")  # type-ahead picks "A tag was added"; the tags field shows
        page.locator("#id_trigger_tags").wait_for(state="visible")
        assert page.locator("#id_trigger_status").is_hidden()
        tab_to(page, "#id_trigger_tags")
        page.keyboard.type("open-house")
        tab_to(page, "#plan-save")
        page.keyboard.press("Enter")

        page.wait_for_url("**/plans/*/#steps")
        plan = Plan.objects.get()
        assert (plan.name, plan.trigger, plan.trigger_tags, plan.is_active) == (
            "Open house follow-up",
            TriggerKind.TAG_ADDED,
            ["open-house"],
            False,
        )
        page.locator("#no-steps").wait_for()

        # step 1: an email (the default kind); a wait's fields stay hidden
        assert page.locator("#id_wait_amount").is_hidden()
        tab_to(page, "#id_subject")
        page.keyboard.type("Thanks for coming, {{ first_name }}")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "id_body"
        page.keyboard.type("Hi {{ first_name }},\nGreat to meet you at the open house.\n{{ agent_name }}")
        tab_to(page, "#step-add")
        page.keyboard.press("Enter")
        page.locator("#flash").get_by_text("Step send an email added").wait_for()

        # step 2: a bad wait first (no duration): the errors come back, nothing saved
        tab_to(page, "#id_kind")
        page.keyboard.type("Wait")
        page.locator("#id_wait_amount").wait_for(state="visible")
        assert page.locator("#id_subject").is_hidden()
        tab_to(page, "#step-add")
        page.keyboard.press("Enter")
        page.locator("#step-errors").wait_for()
        assert "how long to wait" in page.locator("#id_wait_amount_error").inner_text()
        assert PlanStep.objects.count() == 1

        tab_to(page, "#id_wait_amount")
        page.keyboard.type("2")
        page.keyboard.press("Tab")
        page.keyboard.type("Days")
        tab_to(page, "#step-add")
        page.keyboard.press("Enter")
        page.locator("#flash").get_by_text("Step wait added").wait_for()

        steps = list(plan.steps.order_by("position").values_list("kind", "subject", "wait_minutes"))
        assert steps == [
            (StepKind.SEND_EMAIL, "Thanks for coming, {{ first_name }}", None),
            (StepKind.WAIT, "", 2 * 24 * 60),
        ]
        page.locator("#step-list").get_by_text("Wait 2 days").wait_for()

        # move the wait above the email with the keyboard
        wait = plan.steps.get(kind=StepKind.WAIT)
        tab_to(page, f"#step-{wait.pk}-up")
        assert_focus_ring(page, "the Up button")
        page.keyboard.press("Enter")
        page.locator("#flash").get_by_text("moved up").wait_for()
        assert list(plan.steps.order_by("position").values_list("kind", flat=True)) == ["wait", "send_email"]
        # the keyboard goes on from the moved step: its Edit button is the next Tab away
        wait_until(page, f"document.activeElement && document.activeElement.id === 'step-{wait.pk}'")
        tab_to(page, f"#step-{wait.pk}-edit", limit=1)
        wait_until(page, "document.querySelectorAll('#step-list > li').length === 2")
        suffix = "" if width == 1280 else "-mobile"
        artifact(page, f"plans-editor{suffix}")


def test_a_manager_runs_who_would_get_this_now_before_switching_it_on(open_page, office, settings):
    settings.SMS_ACCOUNT_SID, settings.SMS_AUTH_TOKEN, settings.SMS_FROM_NUMBER = "AC1", "token", "+15550001111"
    agent = office["agent"]
    plan = Plan.objects.create(name="Nurture", trigger=TriggerKind.STATUS_CHANGED, trigger_status="nurture")
    PlanStep.objects.create(plan=plan, position=10, kind=StepKind.SEND_TEXT, body="Hi {{ first_name }}, still looking?")
    PlanStep.objects.create(plan=plan, position=20, kind=StepKind.SEND_EMAIL, subject="Hi", body="Hello")
    nina, _omar = (
        LeadFactory(assigned_to=agent, status=LeadStatus.NURTURE, contact__first_name=first, contact__email=email)
        for first, email in (("Nina", "nina@example.com"), ("Omar", "omar@example.com"))
    )
    services.set_consent(lead=nina, channel="text", granted=True, source="web form")
    LeadFactory(assigned_to=agent, status=LeadStatus.NEW, contact__first_name="Ned")

    for width in (1280, 390):
        page, _ = open_page(width=width)
        log_in(page, office["manager"])
        page.goto(f"/plans/{plan.pk}/")
        tab_to(page, "#who-run")
        page.keyboard.press("Enter")  # HTMX swaps the dry run into the card
        page.locator("#who-count").wait_for()
        assert page.url.endswith(f"/plans/{plan.pk}/")
        table = page.locator("#who-table").inner_text()
        assert "Nina" in table and "Omar" in table and "Ned" not in table
        assert "2 leads would be started now" in table
        assert "Hi Nina, still looking?" in table  # Nina agreed to texts
        assert "Skipped: No consent for texts on record" in table  # Omar did not
        suffix = "" if width == 1280 else "-mobile"
        artifact(page, f"plans-who{suffix}", element="#who")
    assert not plan.enrolments.exists()


def test_an_agent_opens_a_leads_dry_run_and_stops_a_plan_with_the_keyboard(open_page, office, settings):
    settings.SMS_ACCOUNT_SID, settings.SMS_AUTH_TOKEN, settings.SMS_FROM_NUMBER = "AC1", "token", "+15550001111"
    settings.PLANS_DAILY_MESSAGE_CAP = 5
    agent = office["agent"]
    city = night_city()
    team = Team.objects.create(name="Harbour office", time_zone=city)
    lead = LeadFactory(
        assigned_to=agent, contact__first_name="Katherine", contact__email="kat@example.com", status=LeadStatus.NEW
    )
    Lead.objects.filter(pk=lead.pk).update(team=team)
    lead.refresh_from_db()
    welcome = Plan.objects.create(name="Welcome", is_active=True)
    PlanStep.objects.create(
        plan=welcome, position=10, kind=StepKind.SEND_EMAIL, subject="Hi {{ first_name }}", body="Hello"
    )
    PlanStep.objects.create(plan=welcome, position=20, kind=StepKind.SEND_TEXT, body="Hi {{ first_name }}!")
    PlanStep.objects.create(plan=welcome, position=30, kind=StepKind.WAIT, wait_minutes=60 * 24)
    PlanStep.objects.create(
        plan=welcome, position=40, kind=StepKind.CREATE_TASK, task_channel="call", subject="Call {{ first_name }}"
    )
    services.enrol(lead=lead, plan=welcome, reason="Started by pl_agent", by=agent)
    services.set_consent(lead=lead, channel="text", granted=True, source="web form")
    Plan.objects.create(name="Calls only", is_active=False)

    for width in (1280, 390):
        page, _ = open_page(width=width)
        log_in(page, agent)
        page.goto(f"/leads/{lead.public_id}/")
        card = page.locator("#plans")
        card.locator("#what-will-happen-title").wait_for()
        text = card.inner_text()
        assert f"Times in the lead's zone ({city})" in text
        assert "Email: Hi Katherine" in text and "Will send" in text
        assert "quiet hours until 09:00" in text  # it is night in the lead's city
        assert "Call task for the agent: Call Katherine" in text
        assert "Granted" in text and "web form" in text
        suffix = "" if width == 1280 else "-mobile"
        artifact(page, f"plans-dry-run{suffix}", element="#plans")

    enrolment = welcome.enrolments.get()
    tab_to(page, f"#enrolment-{enrolment.pk}-stop")
    assert_focus_ring(page, "the Stop button")
    page.keyboard.press("Enter")
    page.locator("#flash").get_by_text("Plan “Welcome” stopped").wait_for()
    enrolment.refresh_from_db()
    assert enrolment.state == "stopped"
    # the card loads again after the page, the plan gone from what will happen
    page.locator("#nothing-will-happen").wait_for()
    assert "Stopped by pl_agent." in page.locator("#plans").inner_text()
