from django.urls import path

from leads.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.report_index, name="index"),
    path("spend/", views.spend_page, name="spend"),
    path("<slug:name>/", views.report_page, name="report"),
    path("<slug:name>/export.csv", views.report_export, {"format": "csv"}, name="export_csv"),
    path("<slug:name>/export.pdf", views.report_export, {"format": "pdf"}, name="export_pdf"),
]
