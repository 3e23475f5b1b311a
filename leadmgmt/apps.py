from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    """``django.contrib.admin`` with the project's site (``leadmgmt.admin_site``)."""

    default_site = "leadmgmt.admin_site.BackOfficeSite"
