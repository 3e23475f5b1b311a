"""Routing's own pages (namespace "routing"), under /routing/. The rules editor, the
fairness ledger and the offers/pond pages are added here by the pages' package."""

from django.urls import path

from integrations.routing import views

app_name = "routing"

urlpatterns = [
    path("claim/<str:token>/", views.claim_by_token, name="claim_by_token"),
]
