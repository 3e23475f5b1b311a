"""The managers' backtest page and the rollback."""

import pytest

from integrations.winprob import training
from integrations.winprob.models import ModelStatus, WinModel
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
URL = "/scoring/model/"


def test_an_agent_may_not_open_the_backtest(client, agent):
    client.force_login(agent)

    assert client.get(URL).status_code == 403


def test_with_too_little_history_the_page_says_so(client, manager):
    training.train_model()
    client.force_login(manager)

    response = client.get(URL)

    assert response.status_code == 200
    assert b"No history yet" in response.content
    assert b"rule-based score only" in response.content


def test_the_page_shows_the_backtest_side_by_side(client, manager, trained):
    client.force_login(manager)

    response = client.get(URL)

    content = response.content.decode()
    assert response.status_code == 200
    assert "Backtest of v1" in content and "Rule-based score" in content
    assert f"{trained.metrics['model']['auc']:.3f}" in content
    assert f"{trained.metrics['rules']['auc']:.3f}" in content
    assert 'data-winprob-chart="calibration"' in content and 'id="decile-table"' in content
    assert client.get(URL + "?version=abc").status_code == 200  # a bad version shows the default


def test_a_manager_rolls_back_to_a_kept_model(client, manager, agent, trained, django_capture_on_commit_callbacks):
    second = training.train_model()
    assert second.status == ModelStatus.IN_USE
    LeadFactory(assigned_to=agent)
    client.force_login(manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}{trained.version}/use/")

    assert response.status_code == 302
    assert WinModel.objects.get(status=ModelStatus.IN_USE).version == trained.version
    assert WinModel.objects.get(pk=trained.pk).activated_by == manager
    page = client.get(URL).content.decode()
    assert "The latest training run (v2" in page and "Model v1 stays in use" in page


def test_a_rejected_or_missing_model_cannot_be_put_in_use(client, manager, agent, trained, settings):
    settings.LEAD_WIN_MODEL = {"AUC_MARGIN": 1.0}
    rejected = training.train_model()
    client.force_login(manager)

    response = client.post(f"{URL}{rejected.version}/use/")

    assert response.status_code == 409
    assert b"did not pass the guard" in response.content
    assert client.post(f"{URL}99/use/").status_code == 404
    client.force_login(agent)
    assert client.post(f"{URL}{trained.version}/use/").status_code == 403
    assert WinModel.objects.get(status=ModelStatus.IN_USE).pk == trained.pk


def test_the_lead_page_shows_the_chance_next_to_the_score(client, agent, trained, score):
    lead = LeadFactory(assigned_to=agent)
    [prediction] = score(lead)
    client.force_login(agent)

    content = client.get(f"/leads/{lead.public_id}/").content.decode()

    assert "Chance to close" in content
    assert f"{round(prediction.probability * 100)}% to close" in content
    assert prediction.factors[0]["text"] in content
