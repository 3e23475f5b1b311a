"""Routing's own pages (namespace "routing"), under /routing/: the one-tap claim of an
offer alert (``views``), the rules editor and the fairness ledger for managers, an
agent's offers and the pond (``pages``)."""

from django.urls import path

from integrations.routing import pages, views
from leads.urls import SmallIdConverter  # noqa: F401  (registers the "id" converter: a bigint, else a 404)

app_name = "routing"

urlpatterns = [
    path("claim/<str:token>/", views.claim_by_token, name="claim_by_token"),
    path("rules/", pages.rule_list, name="rules"),
    path("rules/new/", pages.rule_create, name="rule_create"),
    path("rules/<id:rule_id>/edit/", pages.rule_edit, name="rule_edit"),
    path("rules/<id:rule_id>/delete/", pages.rule_delete, name="rule_delete"),
    path("rules/<id:rule_id>/move/", pages.rule_move, name="rule_move"),
    path("agents/", pages.agent_list, name="agents"),
    path("agents/<id:user_id>/", pages.agent_settings, name="agent_settings"),
    path("pause/", pages.pause_toggle, name="pause"),
    path("ledger/", pages.ledger, name="ledger"),
    path("offers/", pages.offer_list, name="offers"),
    path("offers/<id:offer_id>/claim/", pages.offer_claim, name="offer_claim"),
    path("offers/<id:offer_id>/pass/", pages.offer_pass, name="offer_pass"),
    path("pond/", pages.pond, name="pond"),
    path("pond/<str:lead_id>/take/", pages.pond_take, name="pond_take"),
]
