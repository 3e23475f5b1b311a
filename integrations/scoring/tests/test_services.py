from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from integrations.scoring.models import ScoreRecord
from integrations.scoring.selectors import (
    forget_source_conversion_stats,
    source_conversion_stats,
    source_conversion_stats_held,
)
from integrations.scoring.services import lead_score_refresh, lead_score_save, rescore_stale_leads, score_lead
from leads.core.selectors import with_lead_details
from leads.models import Lead
from leads.tests.factories import InteractionFactory, LeadFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def reload(lead: Lead) -> Lead:
    return with_lead_details(Lead.objects.all()).get(pk=lead.pk)


def test_source_stats_take_one_query_then_come_from_the_cache(django_assert_num_queries):
    LeadFactory.create_batch(3, source="referral", status="closed", assigned_to=None)
    LeadFactory(source="website", assigned_to=None)

    with django_assert_num_queries(1):
        first = source_conversion_stats()
    with django_assert_num_queries(0):
        second = source_conversion_stats()

    assert first == second
    assert first["referral"].converted == 3


def test_source_stats_come_from_the_database_when_the_cache_is_down(settings, django_assert_num_queries):
    LeadFactory.create_batch(2, source="referral", status="closed", assigned_to=None)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }

    with django_assert_num_queries(1):
        stats = source_conversion_stats()

    assert stats["referral"].converted == 2


def test_source_stats_are_read_once_within_a_batch(django_assert_num_queries):
    LeadFactory(source="referral", status="closed", assigned_to=None)
    forget_source_conversion_stats()

    with django_assert_num_queries(1), source_conversion_stats_held():
        first = source_conversion_stats()
        LeadFactory.build()  # no query
        second = source_conversion_stats()

    assert first is second


def test_score_save_writes_score_and_breakdown_without_bumping_the_version():
    lead = reload(LeadFactory())
    result = score_lead(lead, market_analysis=None, now=NOW)

    written = lead_score_save(lead=lead, version=lead.version, result=result, now=NOW)

    lead.refresh_from_db()
    assert written is True
    assert (lead.score, lead.version) == (result.score, 1)
    assert lead.score_breakdown == result.factors
    assert ScoreRecord.objects.get(lead=lead).scored_version == 1


def test_score_save_refuses_to_overwrite_a_newer_save():
    # given a score computed for version 1
    lead = reload(LeadFactory())
    stale = score_lead(lead, market_analysis=None, now=NOW)
    # when the lead is saved again (version 2) before the score is written
    Lead.objects.filter(pk=lead.pk).update(version=F("version") + 1, score=42, score_breakdown=["v2"])

    written = lead_score_save(lead=lead, version=1, result=stale, now=NOW)

    # then the stale score is dropped and version 2's data stays
    lead.refresh_from_db()
    assert written is False
    assert (lead.score, lead.score_breakdown, lead.version) == (42, ["v2"], 2)
    assert not ScoreRecord.objects.filter(lead=lead).exists()


def test_refresh_scores_from_the_stored_market_analysis_for_the_current_version_only():
    analysis = {"locations": [{"location": "Oakland", "status": "ok", "budget_fit": {"position": "within"}}]}
    lead = LeadFactory(metadata={"market_analysis": analysis})

    stale = lead_score_refresh(lead_pk=lead.pk, version=lead.version + 1, now=NOW)
    current = lead_score_refresh(lead_pk=lead.pk, version=lead.version, now=NOW)

    assert stale is None
    budget = next(item for item in current.factors if item["factor"] == "budget_fit")
    assert budget["points"] == 10.0
    assert Lead.objects.get(pk=lead.pk).score == current.score


def test_periodic_rescore_picks_stale_and_changed_leads_and_lets_engagement_decay(django_assert_max_num_queries):
    # given three leads scored when they arrived, two weeks ago
    two_weeks_ago = NOW - timedelta(days=14)
    leads = LeadFactory.create_batch(3)
    Lead.objects.update(created_at=two_weeks_ago, updated_at=two_weeks_ago)
    for lead in leads:
        lead_score_save(
            lead=reload(lead),
            version=1,
            result=score_lead(reload(lead), market_analysis=None, now=two_weeks_ago),
            now=two_weeks_ago,
        )
    stale, recent, changed = leads
    # one was rescored an hour ago; one was rescored an hour ago but has a new interaction since
    ScoreRecord.objects.filter(lead__in=[recent, changed]).update(scored_at=NOW - timedelta(hours=1))
    InteractionFactory(lead=changed, type="call", direction="inbound", occurred_at=NOW)
    Lead.objects.filter(pk=changed.pk).update(updated_at=NOW)
    scores_before = dict(Lead.objects.values_list("pk", "score"))

    # when the periodic rescoring runs
    with django_assert_max_num_queries(3 + 3 * 5):
        written = rescore_stale_leads(NOW)

    # then the stale and the changed lead are rescored; the recent one is left alone
    assert written == 2
    records = {record.lead_id: record for record in ScoreRecord.objects.all()}
    assert records[stale.pk].scored_at == NOW
    assert records[changed.pk].scored_at == NOW
    assert records[recent.pk].scored_at == NOW - timedelta(hours=1)
    scores_after = dict(Lead.objects.values_list("pk", "score"))
    assert scores_after[stale.pk] < scores_before[stale.pk]  # two half-lives of silence
    assert scores_after[changed.pk] > scores_before[changed.pk]  # the lead called in
    assert scores_after[recent.pk] == scores_before[recent.pk]


def test_periodic_rescore_leaves_archived_leads_alone():
    # given an archived lead never scored, and one scored two weeks ago
    archived_at = NOW - timedelta(days=1)
    never_scored = LeadFactory(archived_at=archived_at)
    stale = LeadFactory()
    two_weeks_ago = NOW - timedelta(days=14)
    lead_score_save(
        lead=reload(stale),
        version=1,
        result=score_lead(reload(stale), market_analysis=None, now=two_weeks_ago),
        now=two_weeks_ago,
    )
    Lead.objects.filter(pk=stale.pk).update(archived_at=archived_at, updated_at=two_weeks_ago)

    # when the periodic rescoring runs, then neither is scored
    assert rescore_stale_leads(NOW) == 0
    assert not ScoreRecord.objects.filter(lead=never_scored).exists()
    assert ScoreRecord.objects.get(lead=stale).scored_at == two_weeks_ago

    # and once restored, the stale one is rescored again
    Lead.objects.filter(pk=stale.pk).update(archived_at=None)
    assert rescore_stale_leads(NOW) == 1


def test_periodic_rescore_scores_leads_never_scored():
    lead = LeadFactory()
    now = timezone.now()

    assert rescore_stale_leads(now) == 1
    assert Lead.objects.get(pk=lead.pk).score is not None
    assert rescore_stale_leads(now) == 0
