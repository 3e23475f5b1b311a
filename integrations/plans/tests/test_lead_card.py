"""The lead page's "Plans" card: starting, stopping and resuming a lead's plans, its
consent, and what will happen, times in the lead's zone (loaded into the lead page)."""

import pytest
from django.urls import reverse

from integrations.plans import services
from integrations.plans.models import Consent, Enrolment, EnrolmentState, StepKind
from integrations.plans.tests.conftest import plan_with
from leads.models import Lead, Role, Team
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client):
    user = UserFactory(username="lc_manager", role=Role.MANAGER, first_name="Mia", last_name="Stone")
    client.force_login(user)
    return user


@pytest.fixture
def agent():
    return UserFactory(username="lc_agent", role=Role.AGENT, first_name="Alice", last_name="Nguyen")


def card(client, lead: Lead) -> str:
    """The lead page's Plans card as the page loads it (HTMX)."""
    response = client.get(reverse("plans:lead_plans", args=[lead.public_id]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


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


def test_managers_get_a_link_to_the_plan_from_the_lead_card_agents_do_not(client, agent, manager):
    plan = plan_with({"kind": StepKind.WAIT, "wait_minutes": 60}, name="Welcome")
    lead = LeadFactory(assigned_to=agent)
    services.enrol(lead=lead, plan=plan, reason="t")
    link = f'href="/plans/{plan.pk}/"'

    assert link in card(client, lead)  # signed in as the manager
    client.force_login(agent)
    assert link not in card(client, lead)
