"""Schemathesis fuzzes every operation of the OpenAPI schema against the WSGI app.

Each operation gets a bounded, deterministic run (``MAX_EXAMPLES`` generated requests,
positive and negative mixed, ``derandomize``) with an agent's Bearer token (a manager's
for the manager-only endpoints); paths get real ids (leads, a merge, a webhook and its
delivery) as well as generated ones. Every answer must be a documented
status (never a 5xx), with the documented content type, headers and body.
The figures (requests sent, statuses, failures) are printed at the end of the run and
written to artifacts/api-fuzz-<database>.json.
"""

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from integrations.plans.models import Plan
from leads.core.services import LeadManagementService
from leads.models import Role
from leads.tests.factories import InteractionFactory, LeadFactory, UserFactory
from leads.tests.lead_events import relay_recorded_events

pytestmark = pytest.mark.django_db

# CI's bound; API_FUZZ_MAX_EXAMPLES=500 digs deeper on a laptop.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_MAX_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
REPORTS = Path(django_settings.BASE_DIR) / "artifacts"


def fuzz_settings() -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,  # the same requests on every run: CI failures reproduce
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


# Operations only managers may call; the rest are fuzzed as an agent.
MANAGER_OPERATIONS = ("DELETE /api/v2/leads/{lead_id}", "POST /api/v2/leads/{lead_id}/merge")
MANAGER_PREFIXES = ("/api/v2/webhooks", "/api/v2/merges", "/api/v2/plans")


@pytest.fixture
def callers(db, settings):
    """Bearer tokens, and real ids for path parameters: the agent's leads (with an
    interaction), a merge, a webhook subscription and one of its deliveries."""
    from rest_framework.test import APIClient

    from integrations.webhooks import services as webhooks

    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # no DNS lookups for generated hosts
    agent = UserFactory(username="fuzz_agent", role=Role.AGENT)
    manager = UserFactory(username="fuzz_manager", role=Role.MANAGER, is_staff=True)
    leads = [LeadFactory(assigned_to=agent) for _ in range(3)]
    for lead in leads:
        InteractionFactory(lead=lead, created_by=agent)
    tokens = {"agent": Token.objects.create(user=agent).key, "manager": Token.objects.create(user=manager).key}
    manager_client = APIClient()
    manager_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['manager']}")
    merge = manager_client.post(
        f"/api/v2/leads/{leads[0].public_id}/merge", {"duplicate_id": leads[2].public_id}, format="json"
    )
    assert merge.status_code == 201, merge.content
    subscription = webhooks.subscription_create(
        owner=manager, name="Fuzz", url="http://127.0.0.1:9/hook", events=["lead.updated"]
    )
    LeadManagementService(manager).update_lead(leads[1].public_id, {"tags": ["fuzz"]})
    relay_recorded_events()
    plan = Plan.objects.create(name="Fuzz plan", is_active=True)
    plan.steps.create(position=10, kind="wait", wait_minutes=60)
    return {
        **tokens,
        "ids": {
            "lead_id": [lead.public_id for lead in leads[:2]],
            "merge_id": [merge.json()["merge"]["id"]],
            "subscription_id": [str(subscription.public_id)],
            "delivery_id": [str(subscription.deliveries.get().event_id)],
            "plan_id": [str(plan.pk)],
        },
    }


def known_path_parameters(path: str, ids: dict[str, list[str]]) -> list[dict[str, str]]:
    """Sets of real ids for the operation's path parameters (none when one is unknown)."""
    names = [name for name in ids if f"{{{name}}}" in path]
    if not names or path.count("{") != len(names):
        return []
    return [{name: ids[name][index % len(ids[name])] for name in names} for index in range(2)]


def fuzz_operation(operation, *, token: str, ids: dict[str, list[str]], counts: Counter) -> None:
    """Run the generated requests of one operation; raises on the first failing check."""
    strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
    strategies += [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=parameters)
        for parameters in known_path_parameters(operation.path, ids)
    ]

    @fuzz_settings()
    @given(case=st.one_of(strategies))
    def run(case):
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        counts["requests"] += 1
        counts[f"status {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.fixture
def wsgi_app():
    """The project's WSGI app, called in the test's thread and transaction.

    Django closes a connection that is inside a transaction when a request starts or
    ends (``close_old_connections``); its test client turns that off for its requests,
    and so must a test that calls the WSGI app directly, or PostgreSQL loses the test's
    transaction after the first request.
    """
    from leadmgmt.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_every_operation_survives_fuzzing(callers, wsgi_app, settings, capsys):
    # Budgets and Idempotency-Key records live in the cache; the fuzzer is one caller
    # sending far more than an integration would, so its budget is lifted.
    settings.API_RATE_LIMIT = "1000000/m"
    schema = schemathesis.openapi.from_wsgi("/api/v2/schema", wsgi_app)
    counts: Counter = Counter()
    failures: dict[str, str] = {}
    operations = []
    started = time.perf_counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)
        manager_only = operation.label in MANAGER_OPERATIONS or operation.path.startswith(MANAGER_PREFIXES)
        token = callers["manager" if manager_only else "agent"]
        cache.clear()
        try:
            # Each operation starts from the fixture's data (a fuzzed DELETE or merge
            # would otherwise leave the next operations only 404s).
            with transaction.atomic():
                fuzz_operation(operation, token=token, ids=callers["ids"], counts=counts)
                transaction.set_rollback(True)
        # Collect every operation's failure, then fail once. Schemathesis raises its
        # failures as a BaseExceptionGroup.
        except (Exception, BaseExceptionGroup) as exc:
            failures[operation.label] = str(exc)[:4000]

    summary = {
        "operations": len(operations),
        "max_examples_per_operation": MAX_EXAMPLES,
        "requests": counts["requests"],
        "failures": len(failures),
        "statuses": dict(sorted((key, value) for key, value in counts.items() if key.startswith("status"))),
        "seconds": round(time.perf_counter() - started, 1),
        "database": django_settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
    }
    REPORTS.mkdir(parents=True, exist_ok=True)
    report = REPORTS / f"api-fuzz-{summary['database']}.json"  # one per CI pass
    report.write_text(json.dumps({**summary, "failed_operations": failures}, indent=2))
    with capsys.disabled():
        print(f"\nAPI fuzzing: {json.dumps(summary)}")

    assert len(operations) >= 7
    assert not failures, "\n\n".join(f"{label}:\n{message}" for label, message in failures.items())
