"""The agent pages (namespace "leads")."""

from django.urls import path, register_converter

from leads.views import account, dashboard, followups, imports, leads


class SmallIdConverter:
    """A positive id that fits a bigint (larger numbers are a 404, not a database error)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(SmallIdConverter, "id")

app_name = "leads"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("leads/", leads.lead_list, name="lead_list"),
    path("leads/new/", leads.lead_create, name="lead_create"),
    path("leads/export.csv", leads.lead_export, name="lead_export"),
    path("leads/bulk/", leads.lead_bulk_action, name="lead_bulk_action"),
    path("leads/smart-lists/", leads.saved_filter_create, name="saved_filter_create"),
    path("leads/smart-lists/<id:filter_id>/delete/", leads.saved_filter_delete, name="saved_filter_delete"),
    path("leads/<str:lead_id>/", leads.lead_detail, name="lead_detail"),
    path("leads/<str:lead_id>/edit/", leads.lead_edit, name="lead_edit"),
    path("leads/<str:lead_id>/interactions/", leads.lead_log_interaction, name="lead_log_interaction"),
    path("leads/<str:lead_id>/status/", leads.lead_change_status, name="lead_change_status"),
    path("leads/<str:lead_id>/assign/", leads.lead_assign, name="lead_assign"),
    path("leads/<str:lead_id>/follow-ups/", leads.lead_add_follow_up, name="lead_add_follow_up"),
    path("follow-ups/", followups.follow_up_list, name="follow_ups"),
    path("follow-ups/<id:task_id>/done/", followups.follow_up_done, name="follow_up_done"),
    path("follow-ups/<id:task_id>/snooze/", followups.follow_up_snooze, name="follow_up_snooze"),
    path("settings/", account.settings_page, name="settings"),
    path("settings/time-off/", account.time_off_add, name="time_off_add"),
    path("settings/time-off/<id:time_off_id>/delete/", account.time_off_delete, name="time_off_delete"),
    path("imports/", imports.import_page, name="imports"),
    path("imports/<id:import_id>/", imports.import_detail, name="import_detail"),
    path("imports/<id:import_id>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<id:import_id>/errors.csv", imports.import_errors_csv, name="import_errors_csv"),
]
