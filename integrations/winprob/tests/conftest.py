import pytest

from integrations.winprob import history, services, training


@pytest.fixture
def trained(db):
    """A history from the hidden process (integrations.winprob.history) and a model in use."""
    history.generate(2500, days=720, seed=7)
    record = training.train_model()
    assert record.status == "in_use", record.decision
    return record


@pytest.fixture
def score():
    """Score the given leads now with the model in use; returns their stored predictions."""
    from integrations.winprob.models import WinPrediction

    def run(*leads):
        services.predict_leads(lead_pks=[lead.pk for lead in leads])
        return [WinPrediction.objects.get(lead=lead) for lead in leads]

    return run
