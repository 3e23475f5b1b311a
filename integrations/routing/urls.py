"""The routing pages (namespace "routing"), under /routing/."""

from django.urls import path

from integrations.routing import views
from leads.urls import SmallIdConverter  # noqa: F401  (registers the "id" converter: a bigint, else a 404)

app_name = "routing"

urlpatterns = [
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<id:rule_id>/edit/", views.rule_edit, name="rule_edit"),
    path("rules/<id:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/<id:rule_id>/move/", views.rule_move, name="rule_move"),
    path("ledger/", views.ledger, name="ledger"),
    path("offers/", views.offer_list, name="offers"),
    path("offers/<id:offer_id>/claim/", views.offer_claim, name="offer_claim"),
    path("offers/<id:offer_id>/pass/", views.offer_pass, name="offer_pass"),
    path("pond/", views.pond, name="pond"),
    path("pond/<id:entry_id>/take/", views.pond_take, name="pond_take"),
]
