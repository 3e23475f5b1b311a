from django.urls import re_path

from leads.api import views

app_name = "api"

# Any segment reaches the view, which answers every id that is not a visible lead
# with the same 404 body.
LEAD_ID = r"(?P<lead_id>[^/]+)"

urlpatterns = [
    re_path(r"^leads/?$", views.LeadCollectionView.as_view(), name="lead-list"),
    re_path(rf"^leads/{LEAD_ID}/?$", views.LeadDetailView.as_view(), name="lead-detail"),
    re_path(rf"^leads/{LEAD_ID}/interactions/?$", views.LeadInteractionsView.as_view(), name="lead-interactions"),
]
