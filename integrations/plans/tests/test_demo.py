from io import StringIO

import pytest
from django.core.management import call_command

from integrations.plans.management.commands.seed_plans_demo import DEMO_EMAIL_DOMAIN
from integrations.plans.models import Enrolment, Plan, StepRun
from leads.demo import DEMO_EMAIL_DOMAIN as LEADS_DEMO_DOMAIN

pytestmark = pytest.mark.django_db


def test_seed_demo_ships_its_plans_at_work_and_is_safe_to_run_again(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    assert DEMO_EMAIL_DOMAIN == LEADS_DEMO_DOMAIN

    with django_capture_on_commit_callbacks(execute=True):  # as when the command commits for real
        call_command("seed_demo", leads=60, stdout=StringIO())
    enrolments, runs = Enrolment.objects.count(), StepRun.objects.count()
    call_command("seed_demo", leads=60, stdout=StringIO())

    assert set(Plan.objects.values_list("name", flat=True)) == {"New web lead", "Nurture", "Hot on a listing"}
    # the demo's website activity (seed_webevents_demo) started the web activity plan for one lead
    assert Enrolment.objects.filter(plan__name="Hot on a listing").count() == 1
    assert enrolments > 0 and runs > 0
    assert (Enrolment.objects.count(), StepRun.objects.count()) == (enrolments, runs)
    assert StepRun.objects.filter(status="sent", channel="email").exists()
    assert any(tmp_path.iterdir())  # the emails are in the file backend's folder
