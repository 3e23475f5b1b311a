"""Deals: recorded over the API and with the page's status change; closing a lead needs
its deal, through the one status-change path."""

from decimal import Decimal

import pytest
from django.urls import reverse

from leads.deals.models import Deal, DealStage
from leads.models import LeadStatus, StatusChange
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

CLOSED_DEAL = {
    "property_address": "12 Oak St, Springfield",
    "price": "500000",
    "commission_rate": "3",
    "team_split": "60",
    "stage": "closed",
    "closed_on": "2026-11-20",
}


def deals_url(lead) -> str:
    return f"/api/v2/leads/{lead.public_id}/deals"


def test_posting_a_closed_deal_records_it_and_closes_the_lead(api_client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.OFFER)

    response = api_client(agent).post(deals_url(lead), CLOSED_DEAL, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["deal"]["gross_commission"] == "15000.00"
    assert body["deal"]["team_commission"] == "9000.00"
    assert body["lead_status"] == "closed"
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CLOSED
    assert lead.version == 2
    assert StatusChange.objects.filter(lead=lead, from_status="offer", to_status="closed").count() == 1
    listed = api_client(agent).get(deals_url(lead)).json()["deals"]
    assert [deal["property_address"] for deal in listed] == ["12 Oak St, Springfield"]


def test_a_deal_under_contract_moves_an_open_lead_under_contract(api_client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.SHOWING)
    body = {**CLOSED_DEAL, "stage": "under_contract", "closed_on": None, "commission_rate": None}
    body["commission_amount"] = "12000"

    response = api_client(agent).post(deals_url(lead), body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["deal"]["team_commission"] == "7200.00"
    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNDER_CONTRACT


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"commission_amount": "100"}, "commission_rate"),  # both rate and amount
        ({"commission_rate": None}, "commission_rate"),  # neither
        ({"price": "-5"}, "price"),
        ({"price": "lots"}, "price"),
        ({"commission_rate": "140"}, "commission_rate"),
        ({"team_split": "101"}, "team_split"),
        ({"stage": "won"}, "stage"),
        ({"closed_on": "2999-01-01"}, "closed_on"),
        ({"property_address": ""}, "property_address"),
        ({"agent": "nobody-here"}, "agent"),
    ],
)
def test_a_bad_deal_is_a_400_naming_the_field_and_changes_nothing(api_client, agent, change, field):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.OFFER)

    response = api_client(agent).post(deals_url(lead), {**CLOSED_DEAL, **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Deal.objects.exists()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFER


def test_an_agent_cannot_read_or_add_deals_on_another_agents_lead(api_client, agent, other_agent):
    lead = LeadFactory(assigned_to=other_agent)

    assert api_client(agent).get(deals_url(lead)).status_code == 404
    assert api_client(agent).post(deals_url(lead), CLOSED_DEAL, format="json").status_code == 404
    assert api_client(None).get(deals_url(lead)).status_code == 401
    assert not Deal.objects.exists()


def test_closing_a_lead_over_the_api_without_a_deal_is_refused(api_client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.OFFER)

    response = api_client(agent).put(f"/api/v2/leads/{lead.public_id}", {"status": "closed"}, format="json")

    assert response.status_code == 400
    assert "deal" in response.json()["error"]["fields"]
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFER


def test_closing_over_the_api_works_once_the_lead_has_a_closed_deal(api_client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.OFFER)
    Deal.objects.create(
        lead=lead,
        property_address="1 A St",
        price=100,
        commission_amount=3,
        stage=DealStage.CLOSED,
        closed_on="2026-11-01",
    )

    response = api_client(agent).put(f"/api/v2/leads/{lead.public_id}", {"status": "closed"}, format="json")

    assert response.status_code == 200, response.json()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CLOSED


def test_the_status_form_closes_a_lead_with_its_deal(client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.UNDER_CONTRACT)
    client.force_login(agent)

    response = client.post(
        reverse("leads:lead_change_status", args=[lead.public_id]),
        {
            "status": "closed",
            "deal-property_address": "9 Elm Rd",
            "deal-price": "420000",
            "deal-commission_amount": "10500",
            "deal-team_split": "50",
            "deal-closed_on": "2026-11-02",
        },
    )

    assert response.status_code == 303
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CLOSED
    deal = Deal.objects.get(lead=lead)
    assert (deal.stage, deal.team_commission, deal.agent) == (DealStage.CLOSED, Decimal("5250.00"), agent)
    page = client.get(reverse("leads:lead_detail", args=[lead.public_id]))
    assert "9 Elm Rd" in page.content.decode()


def test_the_status_form_asks_for_the_deal_when_closing_without_one(client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.OFFER)
    client.force_login(agent)

    response = client.post(reverse("leads:lead_change_status", args=[lead.public_id]), {"status": "closed"})

    assert response.status_code == 422
    assert "Closing a lead needs its deal" in response.content.decode()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFER


def test_the_status_form_shows_a_bad_deal_field_and_closes_nothing(client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.OFFER)
    client.force_login(agent)

    response = client.post(
        reverse("leads:lead_change_status", args=[lead.public_id]),
        {"status": "closed", "deal-property_address": "9 Elm Rd", "deal-price": "abc", "deal-commission_rate": "3"},
    )

    assert response.status_code == 422
    assert "A valid number is required" in response.content.decode()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFER
    assert not Deal.objects.exists()


def test_other_status_changes_need_no_deal(client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.NEW)
    client.force_login(agent)

    response = client.post(reverse("leads:lead_change_status", args=[lead.public_id]), {"status": "contacted"})

    assert response.status_code == 303
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONTACTED


def test_the_close_with_this_deal_button_closes_whatever_the_menu_says(client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.OFFER)
    client.force_login(agent)

    # the menu still says "offer"; the button's status=closed comes last in the form
    response = client.post(
        reverse("leads:lead_change_status", args=[lead.public_id]),
        {
            "status": ["offer", "closed"],
            "deal-property_address": "3 Bay Rd",
            "deal-price": "500000",
            "deal-commission_rate": "3",
        },
    )

    assert response.status_code == 303
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CLOSED
    assert Deal.objects.get(lead=lead).team_commission == Decimal("15000.00")


def test_the_admin_adds_a_closed_deal_which_closes_the_lead(client, manager):
    lead = LeadFactory(status=LeadStatus.OFFER)
    client.force_login(manager)

    response = client.post(
        reverse("admin:leads_deal_add"),
        {
            "lead": lead.pk,
            "property_address": "8 Admin Way",
            "price": "400000",
            "commission_rate": "2.5",
            "team_split": "50",
            "stage": "closed",
            "closed_on": "2026-11-03",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    deal = Deal.objects.get(lead=lead)
    assert (deal.team_commission, deal.created_by) == (Decimal("5000.00"), manager)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CLOSED
    assert client.get(reverse("admin:leads_deal_changelist")).status_code == 200


def test_the_admin_refuses_a_deal_without_commission(client, manager):
    lead = LeadFactory(status=LeadStatus.OFFER)
    client.force_login(manager)

    response = client.post(
        reverse("admin:leads_deal_add"),
        {"lead": lead.pk, "property_address": "8 Admin Way", "price": "400000", "team_split": "50", "stage": "closed"},
    )

    assert response.status_code == 200  # the form again, with its errors
    assert not Deal.objects.exists()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFER
