"""The back office: pages render, and every save goes through the service."""

from decimal import Decimal

import pytest
from django import forms
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.authtoken.models import Token

from leads.core.services import LeadManagementService
from leads.models import Contact, Interaction, Lead, LeadStatus, Preferences, Role, StatusChange, Timeline
from leads.tests.factories import ContactFactory, InteractionFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:leads_lead_changelist")
ADD = reverse("admin:leads_lead_add")


def change_url(lead: Lead) -> str:
    return reverse("admin:leads_lead_change", args=[lead.pk])


def page_data(response) -> dict:
    """The POST body the rendered change form would send if submitted untouched."""
    context = response.context
    data, all_forms = {}, [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({f"{management.prefix}-{name}": value for name, value in management.initial.items()})
        all_forms.extend(inline.formset.forms)
    for form in all_forms:
        for field in form:
            value, widget = field.value(), field.field.widget
            if isinstance(widget, forms.CheckboxInput):
                if value:
                    data[field.html_name] = "on"
            elif isinstance(widget, forms.MultiWidget):
                for index, part in enumerate(widget.decompress(value)):
                    data[f"{field.html_name}_{index}"] = "" if part is None else str(part)
            elif isinstance(value, list):
                data[field.html_name] = [str(item) for item in value]
            else:
                data[field.html_name] = "" if value is None else str(value)
    return data


@pytest.fixture
def admin_client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def staff_agent(db):
    """An agent with staff access and the lead permissions, as a broker might grant."""
    user = UserFactory(username="staff_agent", role=Role.AGENT, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_lead", "change_lead"]))
    return user


def lead_with_contact(**contact) -> Lead:
    lead = LeadFactory(contact=None)
    ContactFactory(lead=lead, **contact)
    return lead


# --- changelist ------------------------------------------------------------------


def test_changelist_shows_filters_and_lead_columns(admin_client_for, admin_user):
    # given a lead
    lead = lead_with_contact(first_name="Grace", last_name="Hopper", email="grace@example.com")
    # when the back office opens the list
    response = admin_client_for(admin_user).get(CHANGELIST)
    # then it lists the lead with its contact and offers the filters
    assert response.status_code == 200
    content = response.content.decode()
    assert lead.public_id in content and "Grace Hopper" in content and "grace@example.com" in content
    filter_titles = {spec.title for spec in response.context["cl"].filter_specs}
    assert {"status", "lead type", "source", "urgency level", "assigned to"} <= filter_titles


@pytest.mark.parametrize(
    "term",
    ["grace@example.com", "GRACE@EXAMPLE.COM", "+14155550123", "(415) 555-0123", "Hopper"],
)
def test_search_finds_a_lead_by_email_phone_or_name(admin_client_for, admin_user, term):
    # given the lead searched for and another one
    wanted = lead_with_contact(last_name="Hopper", email="grace@example.com", phone="+14155550123")
    other = lead_with_contact(last_name="Lovelace", email="ada@example.com", phone="+14155550999")
    # when searching
    response = admin_client_for(admin_user).get(CHANGELIST, {"q": term})
    # then only the wanted lead is listed
    found = list(response.context["cl"].result_list)
    assert found == [wanted]
    assert other not in found


def test_urgency_filter_narrows_the_list(admin_client_for, admin_user):
    urgent, calm = LeadFactory(), LeadFactory()
    Timeline.objects.filter(lead=urgent).update(urgency_level="urgent")

    response = admin_client_for(admin_user).get(CHANGELIST, {"timeline__urgency_level": "urgent"})

    assert list(response.context["cl"].result_list) == [urgent]
    assert calm.public_id not in response.content.decode()


@pytest.mark.parametrize("user_fixture", ["admin_user", "manager"])
def test_changelist_query_count_does_not_grow_with_leads(
    request, admin_client_for, django_assert_max_num_queries, user_fixture
):
    client = admin_client_for(request.getfixturevalue(user_fixture))

    def queries_for_changelist() -> int:
        # session, user, permissions (not for superusers), agents for the filter, counts, rows
        with django_assert_max_num_queries(8) as captured:
            assert client.get(CHANGELIST).status_code == 200
        return len(captured)

    # given one lead, then thirty (each with its own agent)
    LeadFactory()
    with_one = queries_for_changelist()
    LeadFactory.create_batch(29)
    with_thirty = queries_for_changelist()
    # then the page costs the same number of queries
    assert with_one == with_thirty


def test_script_in_a_name_is_escaped_in_the_changelist(admin_client_for, admin_user):
    lead_with_contact(first_name="<script>alert(1)</script>")

    content = admin_client_for(admin_user).get(CHANGELIST).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


# --- change page -----------------------------------------------------------------


def test_change_page_shows_the_lead_with_its_parts_and_history(admin_client_for, manager):
    # given a lead with an interaction and a status change
    lead = lead_with_contact(first_name="Grace")
    InteractionFactory(lead=lead, summary="Called about the condo")
    StatusChange.objects.create(lead=lead, from_status="new", to_status="contacted", changed_at=lead.created_at)
    # when a manager (staff, not superuser) opens it
    response = admin_client_for(manager).get(change_url(lead))
    # then contact, preferences, timeline, interactions and history are on the page
    assert response.status_code == 200
    content = response.content.decode()
    assert "Grace" in content and "Called about the condo" in content
    inline_models = {inline.formset.model for inline in response.context["inline_admin_formsets"]}
    assert {Contact, Preferences, Timeline, Interaction, StatusChange} <= inline_models


def test_adding_a_lead_creates_its_parts_through_the_service(admin_client_for, admin_user, agent):
    client = admin_client_for(admin_user)
    # given the add form filled in the way a back-office user would
    data = page_data(client.get(ADD))
    data.update(
        {
            "lead_type": "buyer",
            "source": "referral",
            "status": "new",
            "assigned_to": str(agent.pk),
            "contact-0-first_name": "  Grace ",
            "contact-0-last_name": "Hopper",
            "contact-0-email": "Grace@EXAMPLE.com",
            "contact-0-phone": "(415) 555-0123",
            "preferences-0-property_types": ["condo", "townhouse"],
            "preferences-0-min_price": "300000",
            "preferences-0-max_price": "500000",
            "preferences-0-preferred_locations": "San Francisco\nOakland\n",
            "timeline-0-urgency_level": "high",
        }
    )
    # when it is saved
    response = client.post(ADD, data)
    # then the lead exists with its three parts, normalised as the API would
    assert response.status_code == 302, response.context and response.context["errors"]
    lead = Lead.objects.get()
    assert lead.public_id.startswith("lead_")
    assert (lead.lead_type, lead.source, lead.assigned_to) == ("buyer", "referral", agent)
    contact = Contact.objects.get(lead=lead)
    assert (contact.first_name, contact.email, contact.phone) == ("Grace", "Grace@example.com", "+14155550123")
    preferences = Preferences.objects.get(lead=lead)
    assert preferences.property_types == ["condo", "townhouse"]
    assert preferences.preferred_locations == ["San Francisco", "Oakland"]
    assert (preferences.min_price, preferences.max_price) == (Decimal("300000"), Decimal("500000"))
    assert Timeline.objects.get(lead=lead).urgency_level == "high"
    # and the service recorded the first status, by the signed-in user
    status_change = StatusChange.objects.get(lead=lead)
    assert (status_change.from_status, status_change.to_status, status_change.changed_by) == ("", "new", admin_user)


def test_adding_a_lead_without_email_or_phone_is_refused(admin_client_for, admin_user):
    client = admin_client_for(admin_user)
    data = page_data(client.get(ADD))
    data.update({"lead_type": "buyer", "contact-0-first_name": "Nobody"})

    response = client.post(ADD, data)

    assert response.status_code == 200
    assert "A lead needs an email address or a phone number." in response.content.decode()
    assert not Lead.objects.exists()


def test_editing_a_lead_merges_changes_and_bumps_its_version(admin_client_for, admin_user):
    # given a lead with prices and a location
    lead = LeadFactory(status=LeadStatus.NEW)
    client = admin_client_for(admin_user)
    data = page_data(client.get(change_url(lead)))
    # when the status, the urgency and the phone are changed
    data.update(
        {
            "status": "qualified",
            "timeline-0-urgency_level": "urgent",
            "contact-0-phone": "+1 234 567 890",
        }
    )
    response = client.post(change_url(lead), data)
    # then the changes are saved, the rest kept, and the version moved on once
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.version == 2
    assert lead.status == "qualified"
    assert lead.timeline.urgency_level == "urgent"
    assert (lead.contact.phone, lead.contact.phone_is_valid) == ("+1234567890", False)
    assert (lead.preferences.min_price, lead.preferences.max_price) == (Decimal("300000"), Decimal("500000"))
    assert lead.preferences.preferred_locations == ["San Francisco"]
    change = StatusChange.objects.get(lead=lead)
    assert (change.from_status, change.to_status, change.changed_by) == ("new", "qualified", admin_user)


def test_saving_an_unchanged_lead_changes_nothing(admin_client_for, admin_user):
    lead = LeadFactory()
    client = admin_client_for(admin_user)

    response = client.post(change_url(lead), page_data(client.get(change_url(lead))))

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.version == 1


def test_min_price_above_max_price_is_shown_as_an_error_and_changes_nothing(admin_client_for, admin_user):
    lead = LeadFactory()
    client = admin_client_for(admin_user)
    data = page_data(client.get(change_url(lead)))
    data.update({"preferences-0-min_price": "900000", "lead_type": "investor"})

    response = client.post(change_url(lead), data)

    assert response.status_code == 200
    assert "Must not be greater than max_price." in response.content.decode()
    lead.refresh_from_db()
    assert (lead.version, lead.lead_type, lead.preferences.min_price) == (1, "buyer", Decimal("300000"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("contact-0-email", "not-an-email", "Enter a valid email address."),
        ("contact-0-phone", "12", "Enter a phone number of 7 to 15 digits"),
        ("preferences-0-max_price", "-1", "Must be zero or more."),
        ("timeline-0-pre_approval_amount", "-5", "Must be zero or more."),
        ("contact-0-first_name", "\x01\x02", "This field is required."),
    ],
)
def test_bad_input_shows_a_form_error_and_changes_nothing(admin_client_for, admin_user, field, value, message):
    lead = LeadFactory()
    client = admin_client_for(admin_user)
    data = page_data(client.get(change_url(lead)))
    data.update({field: value, "source": "zillow"})

    response = client.post(change_url(lead), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    lead.refresh_from_db()
    assert (lead.version, lead.source) == (1, "website")


def test_a_stale_form_shows_the_services_refusal_and_changes_nothing(admin_client_for, admin_user, manager):
    # given the change page opened, then the lead changed by someone else
    lead = LeadFactory(status=LeadStatus.NEW)
    client = admin_client_for(admin_user)
    data = page_data(client.get(change_url(lead)))
    LeadManagementService(manager).change_status(lead.public_id, LeadStatus.CONTACTED)
    # when the stale form is saved
    data.update({"lead_type": "seller"})
    response = client.post(change_url(lead), data)
    # then the refusal is shown on the page and nothing of the form was saved
    assert response.status_code == 200
    assert "Nothing was saved: The lead is at version 2, not 1." in response.content.decode()
    lead.refresh_from_db()
    assert (lead.version, lead.lead_type, lead.status) == (2, "buyer", "contacted")


def test_an_interaction_added_inline_is_logged_by_the_signed_in_user(admin_client_for, manager):
    # given a new lead nobody has contacted yet
    lead = LeadFactory(status=LeadStatus.NEW)
    client = admin_client_for(manager)
    data = page_data(client.get(change_url(lead)))
    # when a call is logged in the interactions inline
    data.update({"interactions-0-type": "call", "interactions-0-summary": "Left a voicemail"})
    response = client.post(change_url(lead), data)
    # then the service logged it as the manager's and stamped the first contact
    assert response.status_code == 302
    interaction = Interaction.objects.get(lead=lead)
    assert (interaction.summary, interaction.created_by, interaction.direction) == (
        "Left a voicemail",
        manager,
        "outbound",
    )
    lead.refresh_from_db()
    assert lead.first_contacted_at == interaction.occurred_at
    assert lead.status == "contacted"


def test_an_interaction_dated_in_the_future_is_refused_inline_and_changes_nothing(admin_client_for, manager):
    lead = LeadFactory(status=LeadStatus.NEW)
    client = admin_client_for(manager)
    data = page_data(client.get(change_url(lead)))
    data.update(
        {
            "interactions-0-type": "call",
            "interactions-0-summary": "Will call",
            "interactions-0-occurred_at_0": "9999-12-31",
            "interactions-0-occurred_at_1": "00:00:00",
            # a follow-up may be as far ahead as wanted
            "interactions-0-follow_up_due_at_0": "2999-01-01",
            "interactions-0-follow_up_due_at_1": "09:00:00",
        }
    )

    response = client.post(change_url(lead), data)

    assert response.status_code == 200
    [interactions] = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == "interactions"
    ]
    errors = interactions.forms[0].errors
    assert list(errors) == ["occurred_at"] and "in the future" in errors["occurred_at"][0]
    assert not Interaction.objects.filter(lead=lead).exists()
    lead.refresh_from_db()
    assert (lead.first_contacted_at, lead.status, lead.version) == (None, LeadStatus.NEW, 1)


# --- bulk actions ----------------------------------------------------------------


def test_bulk_assign_asks_for_the_agent_then_assigns_through_the_service(admin_client_for, manager, agent):
    # given two leads of another agent, and one already the target agent's
    leads = LeadFactory.create_batch(2)
    already = LeadFactory(assigned_to=agent)
    client = admin_client_for(manager)
    selected = {ACTION_CHECKBOX_NAME: [lead.pk for lead in [*leads, already]], "action": "assign_to_agent"}
    # when the action is chosen, it first asks which agent
    page = client.post(CHANGELIST, {**selected, "index": "0"})
    assert page.status_code == 200
    assert "Assign leads to an agent" in page.content.decode()
    # and when the agent is chosen
    response = client.post(CHANGELIST, {**selected, "agent": agent.pk, "apply": "Apply"}, follow=True)
    # then all three are the agent's, and the two that changed are counted
    assert "Assigned 2 leads to" in response.content.decode()
    assert set(Lead.objects.values_list("assigned_to", flat=True)) == {agent.pk}
    assert sorted(Lead.objects.values_list("version", flat=True)) == [1, 2, 2]


def test_bulk_assign_refuses_an_inactive_user_and_changes_nothing(admin_client_for, manager, agent):
    lead = LeadFactory()
    previous_agent = lead.assigned_to
    agent.is_active = False
    agent.save()
    client = admin_client_for(manager)

    response = client.post(
        CHANGELIST, {ACTION_CHECKBOX_NAME: [lead.pk], "action": "assign_to_agent", "agent": agent.pk, "apply": "1"}
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    lead.refresh_from_db()
    assert (lead.assigned_to, lead.version) == (previous_agent, 1)


def test_bulk_status_change_records_each_change(admin_client_for, admin_user):
    leads = LeadFactory.create_batch(3, status=LeadStatus.NEW)
    client = admin_client_for(admin_user)

    response = client.post(
        CHANGELIST,
        {
            ACTION_CHECKBOX_NAME: [lead.pk for lead in leads],
            "action": "change_status",
            "status": "nurture",
            "apply": "Apply",
        },
        follow=True,
    )

    assert "Moved 3 leads to “Nurture”." in response.content.decode()
    assert set(Lead.objects.values_list("status", flat=True)) == {"nurture"}
    changes = StatusChange.objects.filter(lead__in=leads)
    assert (
        sorted((c.from_status, c.to_status, c.changed_by_id) for c in changes)
        == [("new", "nurture", admin_user.pk)] * 3
    )


# --- who sees what ---------------------------------------------------------------


def test_a_staff_agent_sees_only_their_own_leads(admin_client_for, staff_agent, other_agent):
    # given one lead of the staff agent and one of another agent
    own = LeadFactory(assigned_to=staff_agent)
    foreign = LeadFactory(assigned_to=other_agent)
    client = admin_client_for(staff_agent)
    # then the list shows only their own
    listed = list(client.get(CHANGELIST).context["cl"].result_list)
    assert listed == [own]
    # and the other agent's lead is treated exactly like one that does not exist
    foreign_page = client.get(change_url(foreign))
    missing_page = client.get(reverse("admin:leads_lead_change", args=[foreign.pk + 1000]))
    assert foreign_page.status_code == missing_page.status_code == 302
    assert foreign_page.url == missing_page.url
    assert client.get(change_url(own)).status_code == 200


def test_a_staff_agent_edits_their_own_lead_but_cannot_reassign_it(admin_client_for, staff_agent, other_agent):
    own = LeadFactory(assigned_to=staff_agent, status=LeadStatus.NEW)
    client = admin_client_for(staff_agent)
    # the bulk assign action is not offered, and the assignee is read-only on the page
    changelist = client.get(CHANGELIST)
    assert "assign_to_agent" not in dict(changelist.context["action_form"].fields["action"].choices)
    page = client.get(change_url(own))
    assert "assigned_to" not in page.context["adminform"].form.fields
    # posting the action anyway changes nothing
    client.post(
        CHANGELIST, {ACTION_CHECKBOX_NAME: [own.pk], "action": "assign_to_agent", "agent": other_agent.pk, "apply": "1"}
    )
    own.refresh_from_db()
    assert (own.assigned_to, own.version) == (staff_agent, 1)
    # while a status change on the page is saved through the service
    data = {**page_data(page), "status": "contacted", "assigned_to": str(other_agent.pk)}
    assert client.post(change_url(own), data).status_code == 302
    own.refresh_from_db()
    assert (own.status, own.assigned_to, own.version) == ("contacted", staff_agent, 2)


def test_leads_cannot_be_deleted_from_the_admin(admin_client_for, admin_user):
    lead = LeadFactory()
    client = admin_client_for(admin_user)

    response = client.post(reverse("admin:leads_lead_delete", args=[lead.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_users_without_staff_access_cannot_open_the_admin(client, agent):
    client.force_login(agent)

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


# --- users -------------------------------------------------------------------------


def test_user_list_shows_role_and_api_token_presence(admin_client_for, admin_user, agent, manager):
    Token.objects.create(user=agent)

    response = admin_client_for(admin_user).get(reverse("admin:leads_user_changelist"))

    assert response.status_code == 200
    rows = {user.username: user for user in response.context["cl"].result_list}
    assert rows["agent_smith"].api_token is True
    assert rows["manager_mia"].api_token is False
    assert "Manager" in response.content.decode()


def test_user_change_page_edits_role_and_manager(admin_client_for, admin_user, agent, manager):
    client = admin_client_for(admin_user)
    url = reverse("admin:leads_user_change", args=[agent.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = page_data(page)
    data.update({"role": "manager", "manager": str(manager.pk)})
    data.pop("password", None)

    response = client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    agent.refresh_from_db()
    assert (agent.role, agent.manager) == ("manager", manager)
