"""Fixtures shared by every app's tests."""

import os

import pytest
from rest_framework.test import APIClient

from leads.models import Role

IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip on a newcomer's laptop; under CI a missing service fails the run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Celery tasks run in the test's own process unless a test starts a real worker.

    Under the PostgreSQL + Redis pass REDIS_URL is set, which would otherwise send
    every task to a broker no worker reads in unit tests.
    """
    from django.core.cache import cache

    from leadmgmt.celery import app

    app.conf.task_always_eager = True
    # A task that fails in-process fails the test (the embedded default only logs it):
    # after-save work that breaks must not pass unseen.
    app.conf.task_eager_propagates = True
    cache.clear()
    yield
    app.conf.task_eager_propagates = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The production hasher takes ~0.3 s per password, and tests create many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def agent(db):
    from leads.tests.factories import UserFactory

    return UserFactory(username="agent_smith", role=Role.AGENT)


@pytest.fixture
def other_agent(db):
    from leads.tests.factories import UserFactory

    return UserFactory(username="agent_jones", role=Role.AGENT)


@pytest.fixture
def manager(db):
    from leads.tests.factories import UserFactory

    return UserFactory(username="manager_mia", role=Role.MANAGER, is_staff=True)


@pytest.fixture
def admin_user(db):
    from leads.tests.factories import UserFactory

    return UserFactory(username="admin_ada", role=Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def api_client():
    """A DRF client; call ``as_user(user)`` to send that user's Bearer token."""

    def as_user(user=None) -> APIClient:
        from rest_framework.authtoken.models import Token

        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
        return client

    return as_user
