"""The periodic jobs: every registered job runs through the runner that beat and
``run_periodic`` use, and each run's outcome is recorded and shown to the back
office (admin list, managers' dashboard warning)."""

import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from integrations import periodic
from integrations.models import PeriodicJobState
from integrations.tasks import run_periodic_job
from leads.core.services import LeadManagementService
from leads.models import LeadCount, LeadStatus
from leads.reporting import counts
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

BROKEN = "crm_report_for_tests"
ADMIN_LIST_URL = "/admin/integrations/periodicjobstate/"


def broken_job(now):
    raise ConnectionError("the reporting database is down")


def working_job(now):
    return 7


@pytest.fixture
def some_work(manager, agent):
    """Leads whose writes left counter rows to compact, SLAs to settle and scores to refresh."""
    leads = LeadFactory.create_batch(3, assigned_to=agent)
    service = LeadManagementService(manager)
    for lead in leads:
        service.change_status(lead.public_id, LeadStatus.CONTACTED)
    return leads


@pytest.fixture
def broken_job_registered(monkeypatch):
    """A job in the registry whose service raises, the way a real job fails."""
    monkeypatch.setitem(periodic.JOBS, BROKEN, periodic.PeriodicJob(f"{__name__}.broken_job", timedelta(minutes=1)))


def repair(monkeypatch) -> None:
    monkeypatch.setitem(periodic.JOBS, BROKEN, periodic.PeriodicJob(f"{__name__}.working_job", timedelta(minutes=1)))


# --- every job runs ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(periodic.JOBS))
def test_every_registered_job_runs_through_the_beat_task(some_work, name):
    # when beat's task runs the job (in-process, as a worker would)
    result = run_periodic_job.apply(args=[name])

    # then it succeeded, and its success is recorded
    assert result.successful(), result.traceback
    state = PeriodicJobState.objects.get(name=name)
    assert state.consecutive_failures == 0 and state.last_error == ""
    assert state.last_succeeded_at is not None and state.last_started_at <= state.last_finished_at


def test_run_periodic_once_runs_every_job_without_a_failure(some_work):
    out, err = StringIO(), StringIO()

    call_command("run_periodic", "--once", stdout=out, stderr=err)

    assert err.getvalue() == ""
    for name in periodic.JOBS:
        assert f" {name}: " in out.getvalue()
    assert set(PeriodicJobState.objects.filter(consecutive_failures=0).values_list("name", flat=True)) == set(
        periodic.JOBS
    )


def test_the_compaction_job_folds_the_counter_rows_and_keeps_every_total(some_work):
    rows_before = LeadCount.objects.count()

    removed = periodic.run("compact_lead_counts")

    assert removed > 0
    assert LeadCount.objects.count() == rows_before - removed
    assert counts.differences() == {}


def test_beat_schedules_every_job_when_celery_starts_before_django():
    # The worker builds its schedule as the Celery app finalizes, before django.setup().
    code = (
        "import json; from leadmgmt.celery import app; app.finalize(); "
        "print(json.dumps(sorted(app.conf.beat_schedule)))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == sorted(periodic.JOBS)


# --- outcomes are recorded -----------------------------------------------------------


def test_a_failing_job_is_recorded_each_run_and_a_success_clears_it(broken_job_registered, monkeypatch):
    for _ in range(2):
        with pytest.raises(ConnectionError):  # the beat task fails (tests let in-process task errors through)
            run_periodic_job.apply(args=[BROKEN])

    state = PeriodicJobState.objects.get(name=BROKEN)
    assert state.consecutive_failures == 2
    assert state.last_error == "ConnectionError: the reporting database is down"
    assert state.last_succeeded_at is None and state.last_failed_at == state.last_finished_at
    assert [job.name for job in periodic.failing_jobs()] == [BROKEN]

    # when the job works again
    repair(monkeypatch)
    assert periodic.run(BROKEN) == 7

    state.refresh_from_db()
    assert state.consecutive_failures == 0 and state.last_result == "7"
    assert state.last_succeeded_at > state.last_failed_at
    assert periodic.failing_jobs() == []


def test_run_periodic_reports_a_failing_job_and_still_runs_the_others(broken_job_registered):
    out, err = StringIO(), StringIO()

    call_command("run_periodic", "--once", stdout=out, stderr=err)

    assert f"{BROKEN} failed: the reporting database is down" in err.getvalue()
    assert PeriodicJobState.objects.get(name=BROKEN).consecutive_failures == 1
    assert PeriodicJobState.objects.filter(consecutive_failures=0).count() == len(periodic.JOBS) - 1


def test_a_job_removed_from_the_registry_no_longer_counts_as_failing(broken_job_registered, monkeypatch):
    with pytest.raises(ConnectionError):
        periodic.run(BROKEN)

    monkeypatch.delitem(periodic.JOBS, BROKEN)

    assert periodic.failing_jobs() == []


# --- shown to the back office ---------------------------------------------------------


def test_managers_see_a_failing_job_on_the_dashboard(broken_job_registered, client, manager):
    with pytest.raises(ConnectionError):
        periodic.run(BROKEN)
    client.force_login(manager)

    page = client.get(reverse("leads:dashboard")).content.decode()

    assert "Background jobs are failing" in page
    assert BROKEN in page and "ConnectionError: the reporting database is down" in page
    assert ADMIN_LIST_URL in page


def test_agents_and_healthy_jobs_show_no_warning(broken_job_registered, monkeypatch, client, manager, agent):
    with pytest.raises(ConnectionError):
        periodic.run(BROKEN)
    client.force_login(agent)
    assert "Background jobs are failing" not in client.get(reverse("leads:dashboard")).content.decode()

    repair(monkeypatch)
    periodic.run(BROKEN)
    client.force_login(manager)
    assert "Background jobs are failing" not in client.get(reverse("leads:dashboard")).content.decode()


def test_the_admin_lists_each_job_read_only(broken_job_registered, client, manager):
    with pytest.raises(ConnectionError):
        periodic.run(BROKEN)
    periodic.run("purge_idempotency_keys")
    client.force_login(manager)

    response = client.get(ADMIN_LIST_URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert BROKEN in page and "failing" in page and "purge_idempotency_keys" in page
    # the jobs that never ran are named
    assert "Registered but never run: compact_lead_counts" in page
    state = PeriodicJobState.objects.get(name=BROKEN)
    assert client.get(f"{ADMIN_LIST_URL}{state.pk}/change/").status_code == 200
    assert client.post(f"{ADMIN_LIST_URL}{state.pk}/change/", {"consecutive_failures": 0}).status_code == 403
    assert client.get(f"{ADMIN_LIST_URL}add/").status_code == 403
    assert client.post(f"{ADMIN_LIST_URL}{state.pk}/delete/", {"post": "yes"}).status_code == 403
    state.refresh_from_db()
    assert state.consecutive_failures == 1


def test_agents_cannot_open_the_jobs_admin(client, agent):
    agent.is_staff = True
    agent.save()
    client.force_login(agent)

    assert client.get(ADMIN_LIST_URL).status_code == 403


def test_a_job_that_stopped_running_is_late():
    now = periodic.timezone.now()
    state = PeriodicJobState(name="sweep_pipeline", last_started_at=now - timedelta(minutes=5))

    assert periodic.job_health(state, now=now) == "late"
    assert periodic.job_health(PeriodicJobState(name="sweep_pipeline", last_started_at=now), now=now) == "ok"
