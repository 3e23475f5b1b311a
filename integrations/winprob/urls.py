"""The chance-to-close pages (namespace "winprob"), under /scoring/."""

from django.urls import path

from integrations.winprob import pages
from leads.urls import SmallIdConverter  # noqa: F401  (registers the "id" converter: a bigint, else a 404)

app_name = "winprob"

urlpatterns = [
    path("model/", pages.backtest, name="backtest"),
    path("model/<id:version>/use/", pages.activate, name="activate"),
]
