from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from integrations.scoring.calculator import score_lead
from integrations.scoring.config import DEFAULTS
from leads.core.selectors import with_lead_details
from leads.models import Lead, StatusChange
from leads.tests.factories import InteractionFactory, LeadFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
WITHIN_MARKET = {
    "locations": [
        {
            "location": "Oakland",
            "status": "ok",
            "median_sale_price": 800000,
            "budget_fit": {"position": "within", "difference_pct": 3.0},
            "matching_listings": 12,
        }
    ]
}


def reload(lead: Lead) -> Lead:
    return with_lead_details(Lead.objects.all()).get(pk=lead.pk)


def lead_arrived(days_ago: float = 0, **fields) -> Lead:
    lead = LeadFactory(**fields)
    Lead.objects.filter(pk=lead.pk).update(created_at=NOW - timedelta(days=days_ago))
    return reload(lead)


def factor(result, name: str) -> dict:
    return next(item for item in result.factors if item["factor"] == name)


def test_every_factor_explains_itself_and_axes_add_up():
    lead = lead_arrived()

    result = score_lead(lead, market_analysis=WITHIN_MARKET, now=NOW)

    names = {item["factor"] for item in result.factors}
    assert names == set(DEFAULTS["FIT_WEIGHTS"]) | set(DEFAULTS["ENGAGEMENT_WEIGHTS"])
    for item in result.factors:
        assert item["axis"] in ("fit", "engagement")
        assert 0 <= item["points"] <= item["max_points"]
        assert item["reason"]
    fit_points = sum(item["points"] for item in result.factors if item["axis"] == "fit")
    assert result.fit == round(fit_points)
    assert (result.fit_max, result.engagement_max) == (55, 45)


def test_an_ideal_lead_scores_near_100_and_a_cold_one_near_0():
    # given a cash buyer in a hurry, reachable, within budget, who replied and saw homes today
    hot = lead_arrived(
        timeline__urgency_level="urgent", timeline__financing_status="cash", contact__preferred_contact_method="phone"
    )
    for kind, direction in [("call", "inbound"), ("email", "inbound"), ("showing", "outbound")] + [
        ("call", "outbound")
    ] * 3:
        InteractionFactory(lead=hot, type=kind, direction=direction, occurred_at=NOW - timedelta(hours=1))
    # and a year-old lead with no financing, no phone, far-off plans, under budget and silent
    cold = lead_arrived(
        days_ago=365,
        timeline__urgency_level="low",
        timeline__financing_status="not_started",
        contact__phone="",
        contact__email_opt_out=True,
    )
    under_budget = {
        "locations": [
            {"location": "Oakland", "status": "ok", "budget_fit": {"position": "below", "difference_pct": -60}}
        ]
    }

    # when both are scored
    hot_result = score_lead(reload(hot), market_analysis=WITHIN_MARKET, now=NOW)
    cold_result = score_lead(cold, market_analysis=under_budget, now=NOW)

    # then they land at the two ends of the 0..100 range
    assert 85 <= hot_result.score <= 100
    assert 0 <= cold_result.score <= 20
    assert factor(cold_result, "budget_fit")["points"] == 0
    assert "60% under the Oakland median" in factor(cold_result, "budget_fit")["reason"]


@pytest.mark.parametrize(
    ("financing", "expected_points"),
    [("cash", 15.0), ("pre_approved", 13.5), ("pre_qualified", 9.0), ("not_started", 1.5)],
)
def test_financing_points_follow_the_financing_status(financing, expected_points):
    lead = lead_arrived(timeline__financing_status=financing)

    result = score_lead(lead, market_analysis=None, now=NOW)

    assert factor(result, "financing")["points"] == expected_points


def test_financing_is_neutral_for_a_seller():
    lead = lead_arrived(lead_type="seller", timeline__financing_status="not_started")

    result = score_lead(lead, market_analysis=None, now=NOW)

    assert factor(result, "financing")["points"] == 7.5
    assert "does not apply" in factor(result, "financing")["reason"]


@pytest.mark.parametrize(
    "market_analysis",
    [
        None,
        {},
        {"locations": None},
        {"locations": "oops"},
        {"locations": [None, 3, {"status": "no_data"}]},
        {"locations": [{"status": "ok", "budget_fit": {"position": "sideways", "difference_pct": "n/a"}}]},
    ],
)
def test_missing_or_malformed_market_data_scores_neutral_without_error(market_analysis):
    lead = lead_arrived()

    result = score_lead(lead, market_analysis=market_analysis, now=NOW)

    assert factor(result, "budget_fit")["points"] == 5.0
    assert "No market data" in factor(result, "budget_fit")["reason"]


def test_budget_fit_takes_the_best_location_and_counts_matching_listings():
    analysis = {
        "locations": [
            {"location": "San Francisco", "status": "ok", "budget_fit": {"position": "below", "difference_pct": 41}},
            {
                "location": "Oakland",
                "status": "ok",
                "budget_fit": {"position": "below", "difference_pct": 10},
                "matching_listings": 4,
            },
            {"location": "Atlantis", "status": "no_data"},
        ]
    }
    lead = lead_arrived()

    result = score_lead(lead, market_analysis=analysis, now=NOW)

    budget = factor(result, "budget_fit")
    assert budget["points"] == 8.0  # 10% under: 1 - 10/50 of 10 points
    assert budget["reason"] == "Budget is 10% under the Oakland median. 4 active listings match."


def test_a_near_move_date_raises_a_normal_urgency_timeline():
    soon = lead_arrived(timeline__urgency_level="normal", timeline__target_move_date=NOW.date() + timedelta(days=20))
    someday = lead_arrived(timeline__urgency_level="normal", timeline__target_move_date=date(NOW.year + 3, 1, 1))

    soon_points = factor(score_lead(soon, market_analysis=None, now=NOW), "timeline")
    someday_points = factor(score_lead(someday, market_analysis=None, now=NOW), "timeline")

    assert soon_points["points"] == 10.0
    assert someday_points["points"] == 4.0
    assert "Wants to move in 20 days" in soon_points["reason"]


def test_contact_completeness_needs_a_valid_phone_and_the_preferred_channel():
    complete = lead_arrived(contact__preferred_contact_method="email")
    invalid_phone = lead_arrived(contact__phone_is_valid=False, contact__preferred_contact_method="text")

    assert factor(score_lead(complete, market_analysis=None, now=NOW), "contact")["points"] == 10.0
    weak = factor(score_lead(invalid_phone, market_analysis=None, now=NOW), "contact")
    assert weak["points"] == 4.0
    assert "invalid phone" in weak["reason"]


def test_engagement_decays_with_time():
    # given a lead that called in today
    lead = lead_arrived(days_ago=1)
    InteractionFactory(lead=lead, type="call", direction="inbound", occurred_at=NOW)
    lead = reload(lead)

    # when it is scored now, a half-life later and 30 days later with no new activity
    today = score_lead(lead, market_analysis=None, now=NOW)
    week = score_lead(lead, market_analysis=None, now=NOW + timedelta(days=7))
    month = score_lead(lead, market_analysis=None, now=NOW + timedelta(days=30))

    # then recency halves per half-life and engagement (and the score) fall
    assert factor(today, "recency")["points"] == 12.0
    assert factor(week, "recency")["points"] == 6.0
    assert month.engagement < week.engagement < today.engagement
    assert month.score < today.score
    assert factor(month, "replies") == factor(today, "replies")


def test_the_agents_own_outbound_attempts_do_not_refresh_recency():
    lead = lead_arrived(days_ago=14)
    InteractionFactory(lead=lead, type="call", direction="outbound", occurred_at=NOW)
    InteractionFactory(lead=lead, type="note", direction="internal", occurred_at=NOW)

    result = score_lead(reload(lead), market_analysis=None, now=NOW)

    assert factor(result, "recency")["points"] == 3.0  # 12 points after two half-lives
    assert factor(result, "interactions")["points"] == 1.6  # the call counts (1 of 5 x 8), the internal note does not


def test_source_quality_comes_from_the_teams_history_smoothed():
    # given two months of history: 41 website leads of which 4 converted (one was lost
    # after a showing), and 2 referral leads of which 1 converted
    for index in range(40):
        LeadFactory(source="website", status="qualified" if index < 3 else "new", assigned_to=None)
    lost_after_showing = LeadFactory(source="website", status="lost", assigned_to=None)
    StatusChange.objects.create(lead=lost_after_showing, from_status="qualified", to_status="showing", changed_at=NOW)
    LeadFactory(source="referral", status="closed")
    LeadFactory(source="referral", status="nurture")
    Lead.objects.update(created_at=NOW - timedelta(days=60))
    # and a fresh unconverted lead of each source, too young to count
    website, referral = lead_arrived(source="website"), lead_arrived(source="referral")

    # when a new lead from each source is scored
    website_points = factor(score_lead(website, market_analysis=None, now=NOW), "source_quality")
    referral_points = factor(score_lead(referral, market_analysis=None, now=NOW), "source_quality")

    # then: team rate = (5 + 0.15*20) / (44 + 20); each source smoothed towards it with weight 20
    team = (5 + 0.15 * 20) / (43 + 20)
    website_rate = (4 + team * 20) / (41 + 20)
    referral_rate = (1 + team * 20) / (2 + 20)
    assert website_points["points"] == round(10 * website_rate / team / 2, 1)
    assert referral_points["points"] == round(10 * referral_rate / team / 2, 1)
    # one converted referral out of two is promising but far from "100% of referrals convert"
    assert website_points["points"] < referral_points["points"] < 10
    assert "Referral leads: 1 of 2 reached qualified" in referral_points["reason"]


def test_source_quality_is_average_without_history():
    lead = lead_arrived(source="zillow")
    quality = factor(score_lead(lead, market_analysis=None, now=NOW), "source_quality")

    assert quality["points"] == 5.0
    assert quality["reason"] == "No history for Zillow leads yet; the team's rate (15%) assumed."


def test_weights_come_from_settings_with_defaults_for_the_rest():
    lead = lead_arrived(timeline__financing_status="cash")

    with override_settings(LEAD_SCORING={"FIT_WEIGHTS": {"financing": 0}, "RECENCY_HALF_LIFE_DAYS": 1}):
        result = score_lead(lead, market_analysis=None, now=NOW + timedelta(days=1))

    assert factor(result, "financing") | {"reason": ""} == {
        "factor": "financing",
        "axis": "fit",
        "points": 0.0,
        "max_points": 0.0,
        "reason": "",
    }
    assert factor(result, "budget_fit")["max_points"] == 10.0
    assert factor(result, "recency")["points"] == 6.0
    assert result.fit_max == 40


def test_leads_differing_only_in_name_and_email_domain_score_the_same():
    # fair housing: names and email domains must not move the score
    first = lead_arrived(contact__first_name="Emily", contact__last_name="Walsh", contact__email="emily@example.com")
    second = lead_arrived(
        contact__first_name="Lakisha", contact__last_name="Washington", contact__email="lakisha@mail.example.org"
    )
    Lead.objects.filter(pk__in=[first.pk, second.pk]).update(created_at=NOW - timedelta(hours=2))

    first_result = score_lead(reload(first), market_analysis=WITHIN_MARKET, now=NOW)
    second_result = score_lead(reload(second), market_analysis=WITHIN_MARKET, now=NOW)

    assert first_result == second_result


# --- website activity (leads.webevents) ------------------------------------------------


def web_event(lead, n: int, kind: str = "listing_viewed", *, ago: timedelta = timedelta(hours=2), ref: str = ""):
    from leads.webevents.models import WebEvent

    return WebEvent.objects.create(
        lead=lead,
        event_id=f"t-{lead.pk}-{kind}-{n}",
        sender_key="system",
        kind=kind,
        occurred_at=NOW - ago,
        listing_ref=ref or f"MLS{n}",
    )


def test_recent_listing_views_earn_engagement_with_a_reason():
    # given a lead that viewed 6 listings this week
    lead = lead_arrived(days_ago=30)
    before = score_lead(lead, market_analysis=None, now=NOW)
    for n in range(6):
        web_event(lead, n)

    # when it is scored
    after = score_lead(lead, market_analysis=None, now=NOW)

    # then the web activity factor says so and the engagement rises, the views refreshing recency too
    web = factor(after, "web_activity")
    assert web["reason"] == "Viewed 6 listings in the last 14 days on the website."
    assert web["points"] == round(9 * 0.4, 1)
    assert factor(before, "web_activity")["points"] == 0.0
    assert factor(before, "web_activity")["reason"] == "No website activity in the last 14 days."
    assert "website activity" in factor(after, "recency")["reason"]
    assert after.engagement > before.engagement


def test_saves_and_an_inquiry_fill_the_web_activity_factor_and_it_is_bounded():
    lead = lead_arrived(days_ago=30)
    for n in range(200):
        web_event(lead, n, ref="MLS7")  # one listing, viewed 200 times
    web_event(lead, 1, "listing_saved")
    web_event(lead, 2, "listing_saved")
    web_event(lead, 3, "inquiry")

    result = score_lead(lead, market_analysis=None, now=NOW)

    web = factor(result, "web_activity")
    assert web["points"] == web["max_points"] == 9.0
    assert web["reason"].startswith("Viewed 1 listing, saved 2 listings, sent 1 inquiry")


def test_web_activity_older_than_the_window_or_in_the_future_counts_nothing():
    lead = lead_arrived(days_ago=60)
    web_event(lead, 1, ago=timedelta(days=15))
    web_event(lead, 2, ago=-timedelta(hours=1))

    result = score_lead(lead, market_analysis=None, now=NOW)

    assert factor(result, "web_activity")["points"] == 0.0
