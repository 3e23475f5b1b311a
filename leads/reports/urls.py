from django.urls import path

from leads.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.report_index, name="index"),
    path("spend/", views.spend_page, name="spend"),
    path("email/", views.email_settings, name="email_settings"),
    path("funnel/", views.report_page, {"name": "funnel"}, name="funnel"),
    path("sources/", views.report_page, {"name": "sources"}, name="sources"),
    path("agents/", views.report_page, {"name": "agents"}, name="agents"),
    path("stages/", views.report_page, {"name": "stages"}, name="stages"),
    path("<slug:name>/export.csv", views.report_export, {"format": "csv"}, name="export_csv"),
    path("<slug:name>/export.pdf", views.report_export, {"format": "pdf"}, name="export_pdf"),
]
