"""Management commands used by scripts and tests: create_agent, api_token, seed_demo."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from leads.models import Interaction, Lead, LeadStatus, Role, StatusChange, User

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

    assert {user.role for user in User.objects.all()} == {Role.MANAGER, Role.AGENT}
    assert Lead.objects.count() == 18
    assert set(Lead.objects.values_list("status", flat=True)) == set(LeadStatus.values)
    assert Lead.objects.filter(assigned_to__role=Role.AGENT).count() == 18
    assert Interaction.objects.exists()
    assert StatusChange.objects.filter(to_status=LeadStatus.CLOSED).exists()
    assert "Demo logins" in output


def test_seed_demo_leads_are_valid_through_the_api(api_client):
    run("seed_demo", "--leads", "9")
    manager = User.objects.get(role=Role.MANAGER)

    body = api_client(manager).get("/api/v2/leads?page_size=100").json()

    assert body["total_count"] == 9
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
