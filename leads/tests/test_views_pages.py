"""Every agent page, for agents and managers: access, rendering, headers."""

import re

import pytest
from django.urls import reverse

from leads.models import FollowUpTask, LeadImport
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agents_lead(agent):
    return LeadFactory(assigned_to=agent)


def page_urls(lead, job_id: int = 1) -> list[str]:
    return [
        reverse("leads:dashboard"),
        reverse("leads:lead_list"),
        reverse("leads:lead_create"),
        reverse("leads:lead_detail", args=[lead.public_id]),
        reverse("leads:lead_edit", args=[lead.public_id]),
        reverse("leads:follow_ups"),
        reverse("leads:imports"),
        reverse("leads:lead_export"),
    ]


def test_every_page_sends_anonymous_visitors_to_the_login(client, agents_lead):
    for url in page_urls(agents_lead):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{reverse('login')}?next="), url


def test_posts_from_anonymous_visitors_change_nothing(client, agents_lead):
    # when an anonymous visitor posts an interaction
    response = client.post(
        reverse("leads:lead_log_interaction", args=[agents_lead.public_id]), {"type": "call", "summary": "x"}
    )
    # then they are sent to the login and no interaction exists
    assert response.status_code == 302
    assert agents_lead.interactions.count() == 0


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_every_page_renders_for_agents_and_managers(client, request, agents_lead, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    for url in page_urls(agents_lead):
        response = client.get(url)
        assert response.status_code == 200, url


def test_pages_send_a_strict_content_security_policy(client, agent):
    client.force_login(agent)
    response = client.get(reverse("leads:dashboard"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_admin_is_left_out_of_the_policy_its_templates_need_inline_styles(client, manager):
    client.force_login(manager)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response


def test_pages_carry_no_inline_script_or_style(client, agent, agents_lead):
    # given pages with charts (their data travels in json_script blocks)
    client.force_login(agent)
    for url in [reverse("leads:dashboard"), reverse("leads:lead_detail", args=[agents_lead.public_id])]:
        html = client.get(url).content.decode()
        # then every <script> either loads a static file or is a JSON data block
        for chunk in html.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
        assert " style=" not in html
        assert "<style" not in html


def test_agent_gets_404_on_another_agents_lead(client, agent, other_agent):
    # given a lead of another agent
    lead = LeadFactory(assigned_to=other_agent)
    client.force_login(agent)
    # then its page, its edit form and its actions are all 404 for this agent
    assert client.get(reverse("leads:lead_detail", args=[lead.public_id])).status_code == 404
    assert client.get(reverse("leads:lead_edit", args=[lead.public_id])).status_code == 404
    posted = client.post(
        reverse("leads:lead_log_interaction", args=[lead.public_id]), {"type": "call", "summary": "Hi"}
    )
    assert posted.status_code == 404
    assert (
        client.post(reverse("leads:lead_change_status", args=[lead.public_id]), {"status": "lost"}).status_code == 404
    )
    lead.refresh_from_db()
    assert lead.status == "new"
    assert lead.interactions.count() == 0


def test_unknown_lead_ids_are_404_not_errors(client, agent):
    client.force_login(agent)
    for lead_id in ["lead_doesnotexist", "nonsense", "lead_" + "a" * 300]:
        assert client.get(f"/leads/{lead_id}/").status_code == 404


def test_a_lead_named_like_a_script_is_shown_as_text(client, agent):
    # given a lead whose name is markup
    lead = LeadFactory(assigned_to=agent, contact__first_name="<script>alert(1)</script>", contact__last_name="<b>x")
    client.force_login(agent)
    for url in [
        reverse("leads:lead_list"),
        reverse("leads:lead_detail", args=[lead.public_id]),
        reverse("leads:dashboard"),
    ]:
        html = client.get(url).content.decode()
        # then the characters are escaped and no such tag reaches the page
        assert "<script>alert(1)</script>" not in html
        assert "<b>x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(reverse("leads:lead_list")).content.decode()


def test_managers_see_the_team_table_and_agents_do_not(client, agent, manager):
    LeadFactory(assigned_to=agent, status="closed")
    client.force_login(manager)
    assert "Contacted within SLA" in client.get(reverse("leads:dashboard")).content.decode()
    client.force_login(agent)
    assert "Contacted within SLA" not in client.get(reverse("leads:dashboard")).content.decode()


def test_other_users_imports_and_tasks_are_404(client, agent, other_agent):
    job = LeadImport.objects.create(created_by=other_agent, file_name="x.csv", source_text="first_name\n")
    lead = LeadFactory(assigned_to=other_agent)
    task = FollowUpTask.objects.create(lead=lead, assigned_to=other_agent, title="Call", due_at=lead.created_at)
    client.force_login(agent)
    assert client.get(reverse("leads:import_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("leads:import_progress", args=[job.pk])).status_code == 404
    assert client.get(reverse("leads:import_errors_csv", args=[job.pk])).status_code == 404
    assert client.post(reverse("leads:follow_up_done", args=[task.pk])).status_code == 404
    task.refresh_from_db()
    assert task.completed_at is None


def test_every_input_of_the_forms_has_a_label(client, manager, agents_lead):
    client.force_login(manager)
    for url in [
        reverse("leads:lead_create"),
        reverse("leads:lead_detail", args=[agents_lead.public_id]),
        reverse("leads:lead_list"),
        reverse("leads:imports"),
    ]:
        html = client.get(url).content.decode()
        assert 'for=""' not in html, url
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
        labelled |= set(re.findall(r'aria-label="[^"]+"[^>]*id="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag or "aria-label=" in tag:
                continue
            input_id = re.search(r'id="([^"]+)"', tag)
            assert input_id and input_id.group(1) in labelled, f"{url}: {tag}"
