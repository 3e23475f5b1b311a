"""Management commands used by scripts and tests: create_agent, api_token, seed_demo."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from leads.demo import DEMO_EMAIL_DOMAIN
from leads.models import FollowUpTask, Interaction, Lead, LeadStatus, Role, StatusChange, User

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- create_agent --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "staff", "superuser"),
    [(Role.AGENT, False, False), (Role.MANAGER, True, False), (Role.ADMIN, True, True)],
)
def test_create_agent_creates_a_user_with_the_role(role, staff, superuser):
    output = run("create_agent", "casey", "--password", "s3cret-pass", "--role", role, "--email", "casey@example.com")

    user = User.objects.get(username="casey")
    assert (user.role, user.is_staff, user.is_superuser) == (role, staff, superuser)
    assert user.email == "casey@example.com"
    assert user.check_password("s3cret-pass")
    assert f"Created {role} casey" in output


def test_create_agent_defaults_to_the_agent_role():
    run("create_agent", "dana", "--password", "pw-dana-123")

    assert User.objects.get(username="dana").role == Role.AGENT


def test_create_agent_updates_an_existing_user():
    run("create_agent", "erin", "--password", "first-pass", "--email", "erin@example.com")

    output = run("create_agent", "erin", "--password", "second-pass", "--role", "manager")

    user = User.objects.get(username="erin")
    assert User.objects.filter(username="erin").count() == 1
    assert user.check_password("second-pass") and not user.check_password("first-pass")
    assert (user.role, user.is_staff) == (Role.MANAGER, True)
    assert user.email == "erin@example.com"  # kept when --email is not given
    assert "Updated manager erin" in output


def test_create_agent_links_a_manager():
    run("create_agent", "boss", "--password", "pw-boss-123", "--role", "manager")

    run("create_agent", "fay", "--password", "pw-fay-1234", "--manager", "boss")

    assert User.objects.get(username="fay").manager.username == "boss"


@pytest.mark.parametrize(
    "args",
    [
        ("create_agent", "gus", "--password", "   "),
        ("create_agent", "gus", "--password", "pw-gus-1234", "--manager", "nobody"),
    ],
)
def test_create_agent_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        run(*args)

    assert not User.objects.filter(username="gus").exists()


def test_create_agent_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        run("create_agent", "hal", "--password", "pw-hal-1234", "--role", "owner")


# --- api_token -----------------------------------------------------------------------------


def test_api_token_prints_the_token_alone_on_the_last_line(agent):
    output = run("api_token", agent.username)

    assert output.splitlines()[-1] == Token.objects.get(user=agent).key
    assert len(output.splitlines()[-1]) == 40


def test_api_token_prints_the_same_token_on_a_second_call(agent):
    first = run("api_token", agent.username).splitlines()[-1]

    second = run("api_token", agent.username).splitlines()[-1]

    assert first == second
    assert Token.objects.filter(user=agent).count() == 1


def test_api_token_rotate_replaces_the_token(agent):
    first = run("api_token", agent.username).splitlines()[-1]

    rotated = run("api_token", agent.username, "--rotate").splitlines()[-1]

    assert rotated != first
    assert Token.objects.get(user=agent).key == rotated


def test_the_printed_token_authenticates_the_api(agent, client):
    token = run("api_token", agent.username).splitlines()[-1]

    response = client.get("/api/v2/leads", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200


@pytest.mark.parametrize("username", ["nobody", ""])
def test_api_token_for_an_unknown_user_is_an_error(username):
    with pytest.raises(CommandError, match="No active user"):
        run("api_token", username)

    assert not Token.objects.exists()


def test_api_token_for_an_inactive_user_is_an_error(agent):
    agent.is_active = False
    agent.save()

    with pytest.raises(CommandError):
        run("api_token", agent.username)


# --- seed_demo -----------------------------------------------------------------------------


def test_seed_demo_loads_users_and_leads_across_every_status():
    output = run("seed_demo", "--leads", "18")

    story = Lead.objects.filter(contact__email__endswith=DEMO_EMAIL_DOMAIN)  # (routing's demo adds arrivals)
    assert {user.role for user in User.objects.all()} == {Role.MANAGER, Role.AGENT}
    assert story.count() == 18
    assert set(story.values_list("status", flat=True)) == set(LeadStatus.values)
    assert story.filter(assigned_to__role=Role.AGENT).count() == 18
    assert Interaction.objects.exists()
    assert StatusChange.objects.filter(to_status=LeadStatus.CLOSED).exists()
    assert "Demo logins" in output


def test_seed_demo_leads_are_valid_through_the_api(api_client):
    run("seed_demo", "--leads", "9")
    manager = User.objects.get(role=Role.MANAGER)

    body = api_client(manager).get("/api/v2/leads?page_size=100").json()

    assert body["total_count"] == Lead.objects.count() >= 9
    assert all(lead["contact"]["phone_is_valid"] for lead in body["leads"])


def test_seed_demo_is_idempotent():
    run("seed_demo", "--leads", "9")
    counts = (User.objects.count(), Lead.objects.count(), Interaction.objects.count(), StatusChange.objects.count())

    output = run("seed_demo", "--leads", "9")

    assert (
        User.objects.count(),
        Lead.objects.count(),
        Interaction.objects.count(),
        StatusChange.objects.count(),
    ) == counts
    assert "nothing added" in output


def test_seed_demo_users_can_log_in_with_the_printed_password(client):
    output = run("seed_demo", "--leads", "9")
    password = output.split("password for each: ")[1].split(")")[0]

    assert client.login(username="alice", password=password)


# The after-save work (first-contact deadlines, scores) runs once the seed commits.
@pytest.mark.django_db(transaction=True)
def test_seed_demo_tells_a_recent_story_that_fills_every_dashboard_figure(client):
    # given the demo `make run` loads
    run("seed_demo")
    now = timezone.now()

    # when the manager opens the dashboard
    client.force_login(User.objects.get(username="manager"))
    page = client.get("/")

    # then the team table has a "contacted within SLA" figure for every agent ...
    rows = page.context["agent_rows"]
    assert len(rows) == 3
    assert all(row.sla_decided and row.contacted_within_sla for row in rows), rows
    assert "no data yet" not in page.content.decode()
    # ... most leads were contacted within their SLA, a few were not
    met, decided = sum(row.contacted_within_sla for row in rows), sum(row.sla_decided for row in rows)
    assert 0.75 <= met / decided < 1
    # ... everyone converted some leads
    assert all(row.conversions for row in rows)
    # ... nobody has waited more than a few days for a first call, and someone waits today
    waiting = page.context["waiting"]
    assert waiting and now - waiting[0].created_at < timedelta(days=3)
    headline = page.context["headline"]
    assert headline.new_today and headline.waiting_for_first_contact
    assert headline.median_minutes_to_first_contact and headline.conversion_rate
    # ... and every chart has a figure in every bar and week
    charts = page.context["charts"]
    assert all(charts["funnel"]["values"])
    weeks = zip(*(dataset["data"] for dataset in charts["sources"]["datasets"]), strict=True)
    assert all(sum(week) for week in weeks)
    assert sum(charts["scores"]["values"]) and not charts["scores"]["pending"]
    assert None not in charts["speed"]["values"]


@pytest.mark.django_db(transaction=True)
def test_seed_demo_gives_every_agent_follow_ups_due_later_today(client):
    run("seed_demo")

    for username in ("alice", "bob", "carmen"):
        client.force_login(User.objects.get(username=username))
        due_today = client.get("/").context["due_today"]

        assert any(task.due_at >= timezone.now() for task in due_today), username
        assert FollowUpTask.objects.filter(assigned_to__username=username, completed_at__isnull=True).count() > 3
