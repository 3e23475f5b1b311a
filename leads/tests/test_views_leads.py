"""The leads list, the lead page's actions and the create/edit forms."""

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead, LeadStatus, SavedFilter
from leads.tests.factories import InteractionFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def lead_url(name: str, lead: Lead) -> str:
    return reverse(f"leads:{name}", args=[lead.public_id])


def valid_form(**overrides) -> dict:
    data = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.com",
        "phone": "(415) 555-0142",
        "preferred_contact_method": "phone",
        "lead_type": "buyer",
        "source": "referral",
        "property_types": ["condo", "townhouse"],
        "min_price": "400000",
        "max_price": "650000",
        "preferred_locations": "Oakland, Berkeley",
        "min_bedrooms": "2",
        "urgency_level": "high",
        "financing_status": "pre_approved",
        "target_move_date": "2030-05-01",
        "tags": "vip, spring",
    }
    data.update(overrides)
    return data


# --- list ---------------------------------------------------------------------


def test_agents_list_shows_only_their_own_leads(client, agent, other_agent):
    mine = LeadFactory(assigned_to=agent, contact__first_name="Mine")
    theirs = LeadFactory(assigned_to=other_agent, contact__first_name="Theirs")
    client.force_login(agent)
    html = client.get(reverse("leads:lead_list")).content.decode()
    assert mine.public_id in html
    assert theirs.public_id not in html


def test_list_costs_the_same_queries_for_3_or_60_leads(client, manager, django_assert_max_num_queries):
    # given a manager and many leads over several agents
    LeadFactory.create_batch(60)
    client.force_login(manager)
    # then a page of the list is a fixed, small number of queries (no per-row queries)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("leads:lead_list"), {"status": "new", "ordering": "-created_at"})
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 25


def test_search_finds_by_name_email_and_phone(client, agent):
    ada = LeadFactory(assigned_to=agent, contact__first_name="Ada", contact__email="ada@lovelace.example")
    LeadFactory(assigned_to=agent, contact__first_name="Bob", contact__email="bob@example.com")
    client.force_login(agent)
    for term in ["ada", "lovelace", ada.contact.phone[-7:]]:
        page = client.get(reverse("leads:lead_list"), {"search": term}).context["page"]
        assert [lead.public_id for lead in page.object_list] == [ada.public_id], term


def test_filters_and_sorting_apply_and_pagination_keeps_them(client, agent):
    LeadFactory.create_batch(30, assigned_to=agent, lead_type="seller", score=50)
    LeadFactory.create_batch(3, assigned_to=agent, lead_type="buyer", score=90)
    client.force_login(agent)
    response = client.get(reverse("leads:lead_list"), {"lead_type": "seller", "ordering": "score"})
    page = response.context["page"]
    assert page.paginator.count == 30
    assert {lead.lead_type for lead in page.object_list} == {"seller"}
    html = response.content.decode()
    assert "?lead_type=seller&amp;ordering=score&amp;page=2" in html
    high = client.get(reverse("leads:lead_list"), {"score_min": "80"}).context["page"]
    assert high.paginator.count == 3


def test_an_invalid_filter_is_a_400_that_says_why(client, agent):
    LeadFactory(assigned_to=agent)
    client.force_login(agent)
    response = client.get(reverse("leads:lead_list"), {"score_min": "500"})
    assert response.status_code == 400
    assert "Some filters are not valid" in response.content.decode()
    assert response.context["page"].paginator.count == 0


def test_smart_lists_are_saved_per_user_and_can_be_removed(client, agent, other_agent):
    client.force_login(agent)
    response = client.post(
        reverse("leads:saved_filter_create"), {"name": "Hot sellers", "query": "lead_type=seller&score_min=70&page=3"}
    )
    saved = SavedFilter.objects.get(owner=agent)
    assert response.status_code == 303
    assert saved.query == "lead_type=seller&score_min=70"  # the page number is not part of a filter
    assert "Hot sellers" in client.get(reverse("leads:lead_list")).content.decode()
    # another user neither sees nor removes it
    client.force_login(other_agent)
    assert "Hot sellers" not in client.get(reverse("leads:lead_list")).content.decode()
    assert client.post(reverse("leads:saved_filter_delete", args=[saved.pk])).status_code == 404
    client.force_login(agent)
    client.post(reverse("leads:saved_filter_delete", args=[saved.pk]))
    assert not SavedFilter.objects.exists()


def test_managers_assign_and_change_status_in_bulk(client, manager, agent, other_agent):
    leads = LeadFactory.create_batch(3, assigned_to=agent)
    client.force_login(manager)
    ids = [lead.public_id for lead in leads[:2]]
    client.post(reverse("leads:lead_bulk_action"), {"action": "assign", "agent": other_agent.username, "lead_ids": ids})
    client.post(reverse("leads:lead_bulk_action"), {"action": "status", "status": "nurture", "lead_ids": ids})
    for lead in leads:
        lead.refresh_from_db()
    assert [lead.assigned_to for lead in leads] == [other_agent, other_agent, agent]
    assert [lead.status for lead in leads] == ["nurture", "nurture", "new"]


def test_agents_cannot_act_in_bulk(client, agent, other_agent):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    client.post(
        reverse("leads:lead_bulk_action"),
        {"action": "assign", "agent": other_agent.username, "lead_ids": [lead.public_id]},
    )
    lead.refresh_from_db()
    assert lead.assigned_to == agent


# --- lead page actions ------------------------------------------------------------


def test_logging_a_call_inline_adds_it_to_the_timeline_and_marks_the_lead_contacted(client, agent):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    # when the inline form is sent by HTMX
    response = client.post(
        lead_url("lead_log_interaction", lead), {"type": "call", "summary": "Talked about Oakland condos"}, **HTMX
    )
    # then it answers with a redirect that HTMX follows to the refreshed page
    assert response.status_code == 303
    assert response["Location"] == lead_url("lead_detail", lead)
    page = client.get(response["Location"]).content.decode()
    assert "Talked about Oakland condos" in page
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONTACTED
    assert lead.first_contacted_at is not None


def test_a_blank_call_summary_is_refused_with_the_api_message(client, agent, api_client):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    response = client.post(lead_url("lead_log_interaction", lead), {"type": "call", "summary": "  "}, **HTMX)
    api = api_client(agent).post(
        f"/api/v2/leads/{lead.public_id}/interactions", {"type": "call", "summary": "  "}, format="json"
    )
    api_message = api.json()["error"]["fields"]["summary"][0]
    assert response.status_code == 422
    assert response.context["interaction_form"].errors["summary"] == [api_message]
    assert lead.interactions.count() == 0


def test_changing_status_records_it(client, agent):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    response = client.post(lead_url("lead_change_status", lead), {"status": "qualified"})
    assert response.status_code == 303
    lead.refresh_from_db()
    assert lead.status == "qualified"
    assert lead.status_changes.filter(to_status="qualified", changed_by=agent).exists()


def test_an_unknown_status_is_a_422_and_changes_nothing(client, agent):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    response = client.post(lead_url("lead_change_status", lead), {"status": "sold-ish"})
    assert response.status_code == 422
    assert "is not a status" in response.content.decode()
    lead.refresh_from_db()
    assert lead.status == "new"


def test_managers_reassign_and_agents_cannot(client, manager, agent, other_agent):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    assert client.post(lead_url("lead_assign", lead), {"agent": other_agent.username}).status_code == 403
    client.force_login(manager)
    assert client.post(lead_url("lead_assign", lead), {"agent": other_agent.username}).status_code == 303
    lead.refresh_from_db()
    assert lead.assigned_to == other_agent


def test_adding_a_follow_up_from_the_lead_page(client, agent):
    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)
    response = client.post(
        lead_url("lead_add_follow_up", lead), {"title": "Send Oakland listings", "due_at": "2030-01-02T09:30"}
    )
    assert response.status_code == 303
    task = lead.follow_ups.get()
    assert (task.title, task.assigned_to, task.created_by) == ("Send Oakland listings", agent, agent)
    bad = client.post(lead_url("lead_add_follow_up", lead), {"title": "", "due_at": "soon"})
    assert bad.status_code == 422
    assert lead.follow_ups.count() == 1


def test_lead_page_costs_a_fixed_number_of_queries(client, manager, agent, django_assert_max_num_queries):
    lead = LeadFactory(assigned_to=agent)
    InteractionFactory.create_batch(15, lead=lead)
    client.force_login(manager)
    # 12, the website activity (its latest events and their summary), the property matches with their listings
    with django_assert_max_num_queries(15):
        assert client.get(lead_url("lead_detail", lead)).status_code == 200


def test_lead_page_degrades_gracefully_before_the_pipeline_has_run(client, agent):
    lead = LeadFactory(assigned_to=agent, score=None, metadata={})
    client.force_login(agent)
    html = client.get(lead_url("lead_detail", lead)).content.decode()
    assert "Score pending" in html
    assert "No market data yet." in html


def test_lead_page_shows_score_breakdown_market_and_insights(client, agent):
    lead = LeadFactory(
        assigned_to=agent,
        score=82,
        score_breakdown=[{"factor": "financing", "axis": "fit", "points": 15, "max_points": 15, "reason": "Cash"}],
        metadata={
            "market_analysis": {
                "locations": [
                    {
                        "location": "Oakland",
                        "status": "ok",
                        "median_sale_price": 850000,
                        "active_listings": 120,
                        "median_days_on_market": 18,
                        "matching_listings": 7,
                        "budget_fit": {"position": "within", "difference_pct": 2.0},
                        "trend": {
                            "direction": "up",
                            "months": 2,
                            "median_sale_price_change_pct": 1.2,
                            "series": [
                                {"month": "2025-09", "median_sale_price": 840000},
                                {"month": "2025-10", "median_sale_price": 850000},
                            ],
                        },
                    }
                ]
            },
            "lead_insights": {"summary": "Best fit: Oakland.", "sentences": ["Homes in Oakland sell fast."]},
        },
    )
    client.force_login(agent)
    response = client.get(lead_url("lead_detail", lead))
    html = response.content.decode()
    assert "$850,000" in html
    assert "Homes in Oakland sell fast." in html
    assert 'id="chart-market"' in html
    assert response.context["market_chart"]["labels"] == ["Sep '25", "Oct '25"]
    assert "Cash" in html


# --- create and edit --------------------------------------------------------------


def test_creating_a_lead_through_the_form(client, agent):
    client.force_login(agent)
    response = client.post(reverse("leads:lead_create"), valid_form())
    lead = Lead.objects.get()
    assert response.status_code == 303
    assert response["Location"] == lead_url("lead_detail", lead)
    assert lead.assigned_to == agent
    assert lead.contact.phone == "+14155550142"
    assert lead.preferences.property_types == ["condo", "townhouse"]
    assert lead.preferences.preferred_locations == ["Oakland", "Berkeley"]
    assert lead.timeline.urgency_level == "high"
    assert lead.tags == ["vip", "spring"]


@pytest.mark.parametrize(
    ("form_changes", "api_changes", "form_field", "api_field"),
    [
        ({"email": "not-an-email"}, {"contact": {"email": "not-an-email"}}, "email", "contact.email"),
        ({"phone": "12"}, {"contact": {"phone": "12"}}, "phone", "contact.phone"),
        ({"first_name": " "}, {"contact": {"first_name": " "}}, "first_name", "contact.first_name"),
        ({"lead_type": "tourist"}, {"lead_type": "tourist"}, "lead_type", "lead_type"),
        ({"min_price": "-5"}, {"preferences": {"min_price": "-5"}}, "min_price", "preferences.min_price"),
        (
            {"min_price": "700000", "max_price": "100000"},
            {"preferences": {"min_price": 700000, "max_price": 100000}},
            "min_price",
            "preferences.min_price",
        ),
    ],
)
def test_form_errors_are_the_apis_messages(client, api_client, agent, form_changes, api_changes, form_field, api_field):
    # given the same bad input sent to the form and to the API
    client.force_login(agent)
    response = client.post(reverse("leads:lead_create"), valid_form(**form_changes))
    body = {
        "contact": {"first_name": "Grace", "email": "grace@example.com"},
        "lead_type": "buyer",
        **{key: value for key, value in api_changes.items() if key != "contact"},
    }
    body["contact"].update(api_changes.get("contact", {}))
    api = api_client(agent).post("/api/v2/leads", body, format="json")
    # then both refuse it, with the same words, and nothing is created
    assert response.status_code == 422
    assert api.status_code == 400
    assert response.context["form"].errors[form_field] == api.json()["error"]["fields"][api_field]
    assert not Lead.objects.exists()


def test_a_lead_needs_an_email_or_a_phone_on_the_form_too(client, agent):
    client.force_login(agent)
    response = client.post(reverse("leads:lead_create"), valid_form(email="", phone=""))
    assert response.status_code == 422
    assert "A lead needs an email address or a phone number." in response.context["form"].non_field_errors()


def test_a_duplicate_is_refused_with_a_link_to_the_existing_lead(client, agent):
    # given the agent's lead with this address in another case
    existing = LeadFactory(
        assigned_to=agent, contact__first_name="Johnny", contact__last_name="Walker", contact__email="john@example.com"
    )
    client.force_login(agent)
    response = client.post(reverse("leads:lead_create"), valid_form(email="John@Example.com", phone=""))
    # then the form says so on the email input and links to the lead; nothing is created
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["email"] == ["A lead with this email address already exists."]
    link = f'<a href="{lead_url("lead_detail", existing)}">Johnny Walker</a>'
    assert f"This person is already a lead: {link}." in response.content.decode()
    assert list(Lead.objects.all()) == [existing]


def test_a_duplicate_of_a_lead_the_agent_cannot_see_is_refused_without_naming_it(client, agent, other_agent):
    # given another agent's lead with the form's phone number
    hidden = LeadFactory(assigned_to=other_agent, contact__first_name="Zebediah", contact__phone="+14155550142")
    client.force_login(agent)
    response = client.post(reverse("leads:lead_create"), valid_form(email="someone.new@example.com"))
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["phone"] == ["A lead with this phone number already exists."]
    assert form.non_field_errors() == ["This person already exists in the team, as a lead you cannot see."]
    html = response.content.decode()
    assert hidden.public_id not in html
    assert "Zebediah" not in html
    assert list(Lead.objects.all()) == [hidden]


def test_an_archived_lead_is_no_duplicate_on_the_form(client, agent):
    LeadFactory(assigned_to=agent, contact__email="grace@example.com", archived_at=timezone.now())
    client.force_login(agent)
    response = client.post(reverse("leads:lead_create"), valid_form())
    assert response.status_code == 303
    assert Lead.objects.filter(archived_at__isnull=True, contact__email="grace@example.com").count() == 1


def edit_form_data(client, lead: Lead, **changes) -> dict:
    """What the browser posts: the edit form as rendered, with ``changes`` typed in."""
    form = client.get(lead_url("lead_edit", lead)).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {key: value for key, value in data.items() if value not in (None, False)}
    data.update({"version": str(lead.version), **changes})
    return data


def test_editing_changes_only_what_was_changed(client, agent):
    lead = LeadFactory(assigned_to=agent, contact__first_name="Old", contact__email="old@example.com")
    client.force_login(agent)
    data = edit_form_data(client, lead, first_name="New", max_price="")
    response = client.post(lead_url("lead_edit", lead), data)
    assert response.status_code == 303
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.contact.first_name == "New"
    assert lead.contact.email == "old@example.com"
    assert lead.preferences.max_price is None  # a cleared input clears the value
    assert lead.preferences.min_price == 300000


def test_editing_a_lead_someone_else_changed_meanwhile_is_refused(client, agent):
    lead = LeadFactory(assigned_to=agent, contact__first_name="Old")
    client.force_login(agent)
    response = client.post(
        lead_url("lead_edit", lead), edit_form_data(client, lead, first_name="New", version=str(lead.version + 1))
    )
    assert response.status_code == 422
    assert "Someone changed this lead" in response.content.decode()
    lead.contact.refresh_from_db()
    assert lead.contact.first_name == "Old"


def test_managers_can_assign_on_the_create_form(client, manager):
    dana = UserFactory(username="dana")
    client.force_login(manager)
    client.post(reverse("leads:lead_create"), valid_form(assigned_to="dana"))
    assert Lead.objects.get().assigned_to == dana
