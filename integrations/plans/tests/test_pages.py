"""The plans pages with Django's test client: managers edit plans (bad input comes back
as field errors with nothing saved), preview a template with a lead and see whom a plan
would reach; agents are refused. The lead page's card: ``test_lead_card``."""

from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations.plans import services
from integrations.plans.models import Enrolment, Plan, PlanStep, StepKind, TriggerKind
from integrations.plans.tests.conftest import plan_with
from leads.models import Role, Team
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


def test_a_field_with_an_error_is_marked_for_screen_readers(client, manager):
    plan = plan_with({"kind": StepKind.SEND_EMAIL})
    response = client.post(
        reverse("plans:step_create", args=[plan.pk]), {"kind": "send_text", "body": "{{ nope }}", "from": "editor"}
    )
    page = response.content.decode()
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="id_body_helptext id_body_error"' in page
    assert 'id="id_body_error"' in page
