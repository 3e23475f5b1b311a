from django.urls import re_path

from leads.api import views

app_name = "api"

# Any segment reaches the view, which answers every id that is not a visible lead
# with the same 404 body.
LEAD_ID = r"(?P<lead_id>[^/]+)"

urlpatterns = [
    re_path(r"^leads/?$", views.LeadCollectionView.as_view(), name="lead-list"),
    re_path(r"^leads/batch/?$", views.LeadBatchView.as_view(), name="lead-batch"),
    re_path(rf"^leads/{LEAD_ID}/?$", views.LeadDetailView.as_view(), name="lead-detail"),
    re_path(rf"^leads/{LEAD_ID}/interactions/?$", views.LeadInteractionsView.as_view(), name="lead-interactions"),
    re_path(rf"^leads/{LEAD_ID}/history/?$", views.LeadHistoryView.as_view(), name="lead-history"),
    re_path(rf"^leads/{LEAD_ID}/merge/?$", views.LeadMergeView.as_view(), name="lead-merge"),
    re_path(r"^merges/(?P<merge_id>[^/]+)/?$", views.MergeDetailView.as_view(), name="merge-detail"),
    re_path(r"^merges/(?P<merge_id>[^/]+)/undo/?$", views.MergeUndoView.as_view(), name="merge-undo"),
]
