"""The plans pages with Django's test client: managers edit plans (bad input comes back
as field errors with nothing saved), preview a template with a lead and see whom a plan
would reach; agents are refused; the lead page's "Plans" card starts and stops plans,
records consent and shows what will happen, times in the lead's zone."""

from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations.plans import services
from integrations.plans.models import Consent, Enrolment, EnrolmentState, Plan, PlanStep, StepKind, TriggerKind
from integrations.plans.tests.conftest import plan_with
from leads.models import Lead, Role, Team
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client):
    user = UserFactory(username="pp_manager", role=Role.MANAGER, first_name="Mia", last_name="Stone")
    client.force_login(user)
    return user


@pytest.fixture
def agent():
    return UserFactory(username="pp_agent", role=Role.AGENT, first_name="Alice", last_name="Nguyen")


def card(client, lead: Lead) -> str:
    """The lead page's Plans card as the page loads it (HTMX)."""
    response = client.get(reverse("plans:lead_plans", args=[lead.public_id]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def steps_of(plan: Plan) -> list[tuple[str, str]]:
    return list(plan.steps.order_by("position").values_list("kind", "subject"))


# --- permissions ---------------------------------------------------------------------


def test_an_agent_is_refused_every_plan_editor_page(client, agent):
    plan = plan_with({"kind": StepKind.SEND_EMAIL})
    step = plan.steps.get()
    client.force_login(agent)
    urls = [
        reverse("plans:plan_list"),
        reverse("plans:plan_create"),
        reverse("plans:plan_detail", args=[plan.pk]),
        reverse("plans:step_create", args=[plan.pk]),
        reverse("plans:step_edit", args=[plan.pk, step.pk]),
        reverse("plans:plan_preview", args=[plan.pk]),
        reverse("plans:plan_who", args=[plan.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("plans:plan_create"), {"name": "Mine", "trigger": "manual"}).status_code == 403
    assert client.post(reverse("plans:step_delete", args=[plan.pk, step.pk])).status_code == 403
    assert client.post(reverse("plans:step_move", args=[plan.pk, step.pk]), {"direction": "up"}).status_code == 403
    assert Plan.objects.count() == 1 and plan.steps.count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("plans:plan_list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_nav_shows_plans_to_managers_only(client, manager, agent):
    assert 'href="/plans/"' in client.get(reverse("leads:dashboard")).content.decode()
    client.force_login(agent)
    assert 'href="/plans/"' not in client.get(reverse("leads:dashboard")).content.decode()


def test_a_plan_of_another_team_is_not_found(client, manager):
    other = Team.objects.create(name="Other office")
    manager.team = Team.objects.create(name="Mine")
    manager.save()
    plan = plan_with({"kind": StepKind.SEND_EMAIL}, team=other)
    assert client.get(reverse("plans:plan_detail", args=[plan.pk])).status_code == 404


# --- the list and the editor -----------------------------------------------------------


def test_the_list_shows_each_plan_with_its_trigger_steps_and_leads(client, manager):
    empty = client.get(reverse("plans:plan_list"))
    assert "No plans yet" in empty.content.decode()
    plan = plan_with({"kind": StepKind.SEND_EMAIL}, {"kind": StepKind.WAIT, "wait_minutes": 60}, name="Welcome")
    plan.trigger, plan.trigger_sources = TriggerKind.NEW_LEAD, ["website"]
    plan.save()

    page = client.get(reverse("plans:plan_list")).content.decode()

    assert "Welcome" in page and "A new lead from Website" in page
    assert f'href="/plans/{plan.pk}/"' in page


def test_a_manager_creates_a_plan_then_adds_two_steps(client, manager):
    response = client.post(
        reverse("plans:plan_create"),
        {"name": "  Open house  ", "trigger": "tag_added", "trigger_tags": "open-house, open-house , vip"},
    )
    plan = Plan.objects.get()
    assert response.status_code == 303 and response["Location"] == f"/plans/{plan.pk}/#steps"
    assert (plan.name, plan.trigger, plan.trigger_tags, plan.is_active) == (
        "Open house",
        "tag_added",
        ["open-house", "vip"],
        False,
    )
    assert plan.created_by == manager

    url = reverse("plans:step_create", args=[plan.pk])
    client.post(url, {"kind": "send_email", "subject": "Hi {{ first_name }}", "body": "Thanks for visiting."})
    client.post(url, {"kind": "wait", "wait_amount": "2", "wait_unit": "days", "subject": "dropped"})

    assert steps_of(plan) == [("send_email", "Hi {{ first_name }}"), ("wait", "")]
    assert plan.steps.get(kind="wait").wait_minutes == 2 * 24 * 60
    page = client.get(reverse("plans:plan_detail", args=[plan.pk])).content.decode()
    assert "Email: Hi {{ first_name }}" in page and "Wait 2 days" in page
    assert "a step already done for a lead is never sent again" in page


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"name": "", "trigger": "manual"}, "name", "required"),
        ({"name": "X", "trigger": "status_changed"}, "trigger_status", "Choose the status"),
        ({"name": "X", "trigger": "tag_added"}, "trigger_tags", "at least one tag"),
        ({"name": "X", "trigger": "no_contact"}, "trigger_days", "how many days"),
        ({"name": "X", "trigger": "no_contact", "trigger_days": "-3"}, "trigger_days", "greater than or equal"),
        ({"name": "X", "trigger": "date_field", "trigger_days": "30"}, "trigger_date_field", "Choose the date"),
        ({"name": "X", "trigger": "explode"}, "trigger", "Select a valid choice"),
        ({"name": "X", "trigger": "new_lead", "trigger_sources": ["nowhere"]}, "trigger_sources", "valid choice"),
    ],
)
def test_a_bad_plan_comes_back_with_its_field_errors_and_nothing_saved(client, manager, fields, field, words):
    response = client.post(reverse("plans:plan_create"), fields)

    assert response.status_code == 422
    assert words in " ".join(response.context["form"].errors[field])
    assert "Nothing was saved" in response.content.decode()
    assert Plan.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"kind": "send_email", "subject": "Hi", "body": "{{ password }}"}, "body", 'Unknown merge field "password"'),
        ({"kind": "send_email", "subject": "{% load static %}", "body": "x"}, "subject", "is not allowed"),
        ({"kind": "send_text", "body": "{% if first_name %}unclosed"}, "body", "does not parse"),
        ({"kind": "send_text", "body": "{{ first_name|safe }}"}, "body", 'filter "safe" is not allowed'),
        ({"kind": "send_email", "subject": "", "body": "x"}, "subject", "needs this"),
        ({"kind": "wait"}, "wait_amount", "how long to wait"),
        ({"kind": "wait", "wait_amount": "400", "wait_unit": "days"}, "wait_amount", "at most a year"),
        ({"kind": "wait", "wait_until_time": "25:99"}, "wait_until_time", "valid time"),
        ({"kind": "wait", "wait_amount": "2", "wait_until_weekday": "1"}, "wait_amount", "not both"),
        ({"kind": "change_status"}, "status", "needs this"),
        ({"kind": "add_tag", "tag": ""}, "tag", "needs this"),
        ({"kind": "teleport"}, "kind", "valid choice"),
    ],
)
def test_a_bad_step_comes_back_with_its_field_errors_and_nothing_saved(client, manager, fields, field, words):
    plan = plan_with({"kind": StepKind.SEND_EMAIL, "subject": "Hi", "body": "Hello"})

    response = client.post(reverse("plans:step_create", args=[plan.pk]), {**fields, "from": "editor"})

    assert response.status_code == 422
    assert words in " ".join(response.context["step_form"].errors[field])
    assert "The step was not added" in response.content.decode()
    assert steps_of(plan) == [("send_email", "Hi")]


def test_editing_a_step_keeps_its_place_and_a_bad_edit_changes_nothing(client, manager):
    plan = plan_with(
        {"kind": StepKind.SEND_EMAIL, "subject": "Hi", "body": "Hello"}, {"kind": StepKind.SEND_TEXT, "body": "Yo"}
    )
    text = plan.steps.get(kind="send_text")
    url = reverse("plans:step_edit", args=[plan.pk, text.pk])

    bad = client.post(url, {"kind": "send_text", "body": "{{ nope }}"})
    assert bad.status_code == 422 and "Nothing was saved" in bad.content.decode()
    text.refresh_from_db()
    assert text.body == "Yo"

    good = client.post(url, {"kind": "wait", "wait_until_weekday": "1", "wait_until_time": "09:30", "body": "gone"})
    assert good.status_code == 303 and good["Location"].endswith(f"#step-{text.pk}")
    text.refresh_from_db()
    assert (text.kind, text.wait_until_weekday, text.wait_until_time, text.body, text.position) == (
        "wait",
        1,
        time(9, 30),
        "",
        20,
    )


def test_a_bad_settings_save_keeps_the_plan_as_it_was(client, manager):
    plan = plan_with({"kind": StepKind.SEND_EMAIL}, name="Welcome", is_active=False)
    response = client.post(reverse("plans:plan_detail", args=[plan.pk]), {"name": "Renamed", "trigger": "no_contact"})
    assert response.status_code == 422
    plan.refresh_from_db()
    assert (plan.name, plan.trigger) == ("Welcome", "manual")

    client.post(
        reverse("plans:plan_detail", args=[plan.pk]),
        {"name": "Renamed", "trigger": "no_contact", "trigger_days": "14", "is_active": "on", "pause_on_reply": "on"},
    )
    plan.refresh_from_db()
    assert (plan.name, plan.trigger, plan.trigger_days, plan.is_active, plan.pause_on_reply, plan.pause_on_status) == (
        "Renamed",
        "no_contact",
        14,
        True,
        True,
        False,
    )


def test_steps_move_up_and_down_and_are_deleted(client, manager):
    plan = plan_with(
        {"kind": StepKind.SEND_EMAIL, "subject": "one"},
        {"kind": StepKind.CREATE_TASK, "subject": "two"},
        {"kind": StepKind.NOTIFY_MANAGER, "subject": "three"},
    )
    one, _two, three = plan.steps.order_by("position")

    client.post(reverse("plans:step_move", args=[plan.pk, three.pk]), {"direction": "up"})
    assert [subject for _, subject in steps_of(plan)] == ["one", "three", "two"]
    client.post(reverse("plans:step_move", args=[plan.pk, one.pk]), {"direction": "down"})
    assert [subject for _, subject in steps_of(plan)] == ["three", "one", "two"]
    # the first cannot go up; a bad direction is a 400
    client.post(reverse("plans:step_move", args=[plan.pk, three.pk]), {"direction": "up"})
    assert [subject for _, subject in steps_of(plan)] == ["three", "one", "two"]
    assert client.post(reverse("plans:step_move", args=[plan.pk, one.pk]), {"direction": "sideways"}).status_code == 400
    assert client.get(reverse("plans:step_move", args=[plan.pk, one.pk])).status_code == 405

    client.post(reverse("plans:step_delete", args=[plan.pk, one.pk]))
    assert [subject for _, subject in steps_of(plan)] == ["three", "two"]
    # a step of another plan is not found through this one
    other = plan_with({"kind": StepKind.SEND_EMAIL})
    assert client.post(reverse("plans:step_delete", args=[plan.pk, other.steps.get().pk])).status_code == 404
    assert PlanStep.objects.filter(plan=other).count() == 1


# --- preview and who would get it ------------------------------------------------------


def test_the_preview_renders_the_chosen_lead_autoescaped_with_its_plain_text_part(client, manager):
    plan = plan_with(
        {
            "kind": StepKind.SEND_EMAIL,
            "subject": "Hi {{ first_name }}",
            "body": "Dear {{ first_name }},\n\nWelcome <b>home</b>.",
        }
    )
    step = plan.steps.get()
    lead = LeadFactory(contact__first_name="<script>alert(1)</script>Kat", contact__email="kat@example.com")

    response = client.get(reverse("plans:plan_preview", args=[plan.pk]), {"lead": lead.public_id, "step": step.pk})

    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Kat" in page
    assert "<b>home</b>" in page  # the template's own markup in the HTML part
    rendered = response.context["rendered"]
    assert rendered["subject"] == "Hi <script>alert(1)</script>Kat"
    assert rendered["text"].startswith("Dear <script>alert(1)</script>Kat,")
    assert "&lt;script&gt;" in rendered["html"]


def test_the_preview_refuses_a_lead_the_manager_cannot_see_or_a_step_of_no_message(client, manager):
    plan = plan_with({"kind": StepKind.SEND_TEXT, "body": "Hi {{ first_name }}"})
    LeadFactory(contact__first_name="Visible")
    url = reverse("plans:plan_preview", args=[plan.pk])

    unknown = client.get(url, {"lead": "lead_doesnotexist000000000000"})
    assert unknown.status_code == 400 and "No lead you can see" in unknown.content.decode()
    bad_step = client.get(url, {"step": "999999"})
    assert bad_step.status_code == 400 and "no such step" in bad_step.content.decode()


def test_an_agent_cannot_preview_with_a_lead_of_another_agent(client, agent):
    # the preview is a manager page; the lead lookup is scoped besides
    plan = plan_with({"kind": StepKind.SEND_TEXT, "body": "Hi"})
    client.force_login(agent)
    assert (
        client.get(reverse("plans:plan_preview", args=[plan.pk]), {"lead": LeadFactory().public_id}).status_code == 403
    )


def test_who_would_get_it_lists_the_leads_its_trigger_selects_with_their_first_message(client, manager, settings):
    settings.PLANS_DAILY_MESSAGE_CAP = 5
    plan = plan_with(
        {"kind": StepKind.WAIT, "wait_minutes": 60},
        {"kind": StepKind.SEND_EMAIL, "subject": "Welcome {{ first_name }}", "body": "Hello"},
        trigger=TriggerKind.STATUS_CHANGED,
        trigger_status="nurture",
        is_active=False,
        name="Nurture",
    )
    nurtured = LeadFactory(status="nurture", contact__first_name="Nina", contact__email="nina@example.com")
    LeadFactory(status="new", contact__first_name="Ned")

    htmx = client.get(reverse("plans:plan_who", args=[plan.pk]), headers={"HX-Request": "true"})
    page = client.get(reverse("plans:plan_who", args=[plan.pk]))

    assert htmx.status_code == 200 and "<html" not in htmx.content.decode()
    body = page.content.decode()
    assert "Nina" in body and "Ned" not in body
    assert "Welcome Nina" in body and "Will send" in body
    assert "1 lead</strong> would be started" in body
    assert nurtured.public_id in body
    assert not Enrolment.objects.exists()  # nothing started, nothing sent


# --- the lead page ---------------------------------------------------------------------


def test_an_agent_starts_and_stops_a_plan_from_the_lead_page(client, agent):
    plan = plan_with({"kind": StepKind.WAIT, "wait_minutes": 60}, {"kind": StepKind.SEND_EMAIL}, name="Welcome")
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    page_url = reverse("leads:lead_detail", args=[lead.public_id])

    # the lead page places the card, which loads its body on its own
    page = client.get(page_url).content.decode()
    assert 'id="plans-title"' in page and f'hx-get="/plans/lead/{lead.public_id}/"' in page
    body = card(client, lead)
    assert "Not in any plan" in body and ">Welcome<" in body and "<html" not in body
    own_page = client.get(reverse("plans:lead_plans", args=[lead.public_id])).content.decode()
    assert "<html" in own_page and "Not in any plan" in own_page

    started = client.post(reverse("plans:lead_plan_start", args=[lead.public_id]), {"plan": plan.pk}, follow=True)
    enrolment = Enrolment.objects.get()
    assert (enrolment.lead, enrolment.plan, enrolment.started_by) == (lead, plan, agent)
    assert "Plan “Welcome” started" in started.content.decode()
    assert f'id="enrolment-{enrolment.pk}-stop"' in card(client, lead)

    again = client.post(reverse("plans:lead_plan_start", args=[lead.public_id]), {"plan": plan.pk}, follow=True)
    assert "already in the plan" in again.content.decode()
    assert Enrolment.objects.count() == 1

    stopped = client.post(reverse("plans:lead_plan_stop", args=[lead.public_id]), {"plan": plan.pk}, follow=True)
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.STOPPED
    assert "Plan “Welcome” stopped" in stopped.content.decode()
    assert client.get(reverse("plans:lead_plan_stop", args=[lead.public_id])).status_code == 405


def test_start_and_stop_refuse_leads_out_of_sight_and_bad_plans(client, agent):
    plan = plan_with({"kind": StepKind.SEND_EMAIL})
    theirs = LeadFactory(assigned_to=UserFactory(username="pp_other"))
    mine = LeadFactory(assigned_to=agent)
    client.force_login(agent)

    assert client.post(reverse("plans:lead_plan_start", args=[theirs.public_id]), {"plan": plan.pk}).status_code == 404
    assert client.post(reverse("plans:lead_plan_stop", args=[theirs.public_id]), {"plan": plan.pk}).status_code == 404
    for bad in ("", "abc", "999999", "1" * 40):
        response = client.post(reverse("plans:lead_plan_start", args=[mine.public_id]), {"plan": bad}, follow=True)
        assert response.status_code == 200 and "Choose a plan to start" in response.content.decode()
    not_in = client.post(reverse("plans:lead_plan_stop", args=[mine.public_id]), {"plan": plan.pk}, follow=True)
    assert "not in this plan" in not_in.content.decode()
    assert not Enrolment.objects.exists()


def test_the_lead_page_shows_what_will_happen_in_the_leads_zone_and_why_not(client, agent, settings):
    settings.PLANS_DAILY_MESSAGE_CAP = 5
    team = Team.objects.create(name="NY office", time_zone="America/New_York")
    lead = LeadFactory(assigned_to=agent, contact__first_name="Kat", contact__email="kat@example.com")
    Lead.objects.filter(pk=lead.pk).update(team=team)
    plan = plan_with(
        {"kind": StepKind.SEND_EMAIL, "subject": "Hi {{ first_name }}", "body": "Hello"},
        {"kind": StepKind.SEND_TEXT, "body": "Text me"},
        name="Welcome",
    )
    services.enrol(lead=lead, plan=plan, reason="by hand")
    client.force_login(agent)

    page = card(client, lead)

    assert "Times in the lead's zone (America/New_York)" in page
    assert "Email: Hi Kat" in page and "Will send" in page  # the subject as the lead would get it
    assert "Skipped: No consent for texts on record." in page
    assert (" EST" in page) or (" EDT" in page)


def test_consent_is_recorded_from_the_lead_page_and_bad_input_changes_nothing(client, agent):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    url = reverse("plans:lead_consent", args=[lead.public_id])

    client.post(url, {"channel": "text", "granted": "yes", "source": "asked on the phone"})
    bad = client.post(url, {"channel": "fax", "granted": "yes"}, follow=True)

    consent = Consent.objects.get()
    assert (consent.channel, consent.granted, consent.source, consent.recorded_by) == (
        "text",
        True,
        "asked on the phone",
        agent,
    )
    assert "Consent not saved" in bad.content.decode()
    page = card(client, lead)
    assert "asked on the phone" in page


# --- queries ---------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_and_the_editor_cost_the_same_queries_for_few_or_many(client, manager):
    # given one plan with one step and one enrolment
    first = plan_with({"kind": StepKind.SEND_EMAIL})
    services.enrol(lead=LeadFactory(), plan=first, reason="t")
    list_one, editor_one = _queries(client, "/plans/"), _queries(client, f"/plans/{first.pk}/")

    # when there are more plans, steps and leads in them
    for _ in range(4):
        plan = plan_with({"kind": StepKind.SEND_EMAIL}, {"kind": StepKind.WAIT, "wait_minutes": 5})
        services.enrol(lead=LeadFactory(), plan=plan, reason="t")
    for _ in range(5):
        first.steps.create(position=first.steps.count() * 10 + 100, kind=StepKind.WAIT, wait_minutes=5)
        services.enrol(lead=LeadFactory(), plan=first, reason="t")

    # then the pages cost the same
    assert _queries(client, "/plans/") == list_one
    assert _queries(client, f"/plans/{first.pk}/") == editor_one


def test_unknown_or_out_of_range_ids_are_404_not_500(client, manager):
    plan = plan_with({"kind": StepKind.SEND_EMAIL})
    huge = "9" * 30
    for url in (f"/plans/{huge}/", f"/plans/{plan.pk}/steps/{huge}/", f"/plans/{huge}/who/", f"/plans/{huge}/preview/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/plans/{plan.pk}/steps/{huge}/move/", {"direction": "up"}).status_code == 404
    response = client.get(f"/plans/{plan.pk}/preview/", {"lead": "lead_" + "f" * 35, "step": huge})
    assert response.status_code == 400


def test_a_paused_plan_is_resumed_from_the_lead_page(client, agent):
    plan = plan_with({"kind": StepKind.WAIT, "wait_minutes": 60}, {"kind": StepKind.SEND_EMAIL}, name="Welcome")
    lead = LeadFactory(assigned_to=agent)
    enrolment = services.enrol(lead=lead, plan=plan, reason="t")
    services.pause_for(lead_pk=lead.pk, why="Paused: the lead replied (text).", setting="pause_on_reply")
    client.force_login(agent)
    url = reverse("plans:lead_plan_resume", args=[lead.public_id])

    page = card(client, lead)
    assert "Paused: the lead replied (text)." in page and f'id="enrolment-{enrolment.pk}-resume"' in page

    resumed = client.post(url, {"plan": plan.pk}, follow=True)
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.ACTIVE
    assert "Plan “Welcome” resumed" in resumed.content.decode()
    # an active plan cannot be resumed again; a bad plan neither
    for value in (plan.pk, "nope"):
        again = client.post(url, {"plan": value}, follow=True)
        assert "not paused for this lead" in again.content.decode()


def test_the_card_of_a_lead_out_of_sight_is_not_found(client, agent):
    theirs = LeadFactory(assigned_to=UserFactory(username="pp_someone"))
    client.force_login(agent)
    assert client.get(reverse("plans:lead_plans", args=[theirs.public_id])).status_code == 404
    assert client.get(reverse("plans:lead_plans", args=["lead_nope"])).status_code == 404


def test_a_field_with_an_error_is_marked_for_screen_readers(client, manager):
    plan = plan_with({"kind": StepKind.SEND_EMAIL})
    response = client.post(
        reverse("plans:step_create", args=[plan.pk]), {"kind": "send_text", "body": "{{ nope }}", "from": "editor"}
    )
    page = response.content.decode()
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="id_body_helptext id_body_error"' in page
    assert 'id="id_body_error"' in page


def test_managers_get_a_link_to_the_plan_from_the_lead_card_agents_do_not(client, agent, manager):
    plan = plan_with({"kind": StepKind.WAIT, "wait_minutes": 60}, name="Welcome")
    lead = LeadFactory(assigned_to=agent)
    services.enrol(lead=lead, plan=plan, reason="t")
    link = f'href="/plans/{plan.pk}/"'

    assert link in card(client, lead)  # signed in as the manager
    client.force_login(agent)
    assert link not in card(client, lead)
